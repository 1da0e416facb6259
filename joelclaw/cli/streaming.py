"""Commands that stream (`watch`, `logs --follow`): NDJSON lines on stdout when piped, each
typed (start, step, progress, log, event, result, error), the last one the command's envelope;
readable lines on a terminal. Ctrl-C ends a stream normally."""

from __future__ import annotations

import json
from typing import Any

import click

from joelclaw.cli.output import Output


class Stream:
    def __init__(self, out: Output):
        self.out = out
        out.streaming = True  # the closing envelope goes out as one line

    def emit(self, kind: str, line: str, /, **data: Any) -> None:
        """One NDJSON line (JSON mode) or `line` (terminal)."""
        if self.out.json_mode:
            click.echo(json.dumps({"type": kind, **data}, default=str))
        else:
            click.echo(line)
