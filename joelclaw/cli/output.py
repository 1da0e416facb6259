"""The CLI's two faces: one JSON envelope per command for agents and pipes (SPEC §12), readable
text for a person at a terminal. Commands build a `Reply`; only this module decides how it looks.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict

import click

from joelclaw.durations import humane
from joelclaw.errors import JoelclawError
from joelclaw.redaction import redact, redact_text


class NextAction(TypedDict):
    command: str
    description: str


def action(command: str, description: str) -> NextAction:
    """A suggested follow-up; the `joelclaw ` prefix is added so agents can run it verbatim."""
    prefix = "" if command.startswith("joelclaw") else "joelclaw "
    return {"command": prefix + command, "description": description}


@dataclass
class Reply:
    """What a command produced: the result, how to show it to a person, and what to do next."""

    result: Any
    render: Callable[[Any], str] | None = None
    next_actions: list[NextAction] = field(default_factory=list)


@dataclass(eq=False)
class Failure(JoelclawError):
    """A failure the CLI reports in the envelope; `exit_code` 1 = failed, 2 = usage error."""

    message: str
    code: str = field()  # no default: JoelclawError's class-level code is not one
    fix: str
    exit_code: int = 1
    result: Any = None
    next_actions: list[NextAction] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def envelope(command: str, reply: Reply | None = None, failure: Failure | None = None
             ) -> dict[str, Any]:
    """The SPEC §12 envelope; `error` and `fix` appear only on failure."""
    if failure is not None:
        return {"ok": False, "command": command, "result": failure.result,
                "error": {"message": failure.message, "code": failure.code},
                "fix": failure.fix, "next_actions": failure.next_actions}
    assert reply is not None
    return {"ok": True, "command": command, "result": reply.result,
            "next_actions": reply.next_actions}


def wants_json(flag_json: bool, flag_text: bool) -> bool:
    """JSON when asked, or when stdout is not a terminal (pipes, agents), unless --text."""
    if flag_json:
        return True
    if flag_text:
        return False
    return not _isatty(sys.stdout)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Output:
    """Writes exactly one envelope (JSON mode) or readable text (terminal) per command; what
    it writes is redacted (`joelclaw.redaction`), with the configured secrets once known."""

    def __init__(self, command: str, json_mode: bool):
        self.command = command
        self.json_mode = json_mode
        self.secrets: tuple[str, ...] = ()
        self.streaming = False  # NDJSON lines went out: the envelope is the last, one line

    def progress(self, message: str) -> None:
        """Progress goes to stderr so stdout stays one parseable object."""
        message = redact_text(message, self.secrets)
        click.echo(click.style(message, dim=True) if not self.json_mode else message, err=True)

    def success(self, reply: Reply) -> int:
        reply = Reply(redact(reply.result, self.secrets), reply.render, reply.next_actions)
        if self.json_mode:
            _print_json(envelope(self.command, reply), compact=self.streaming)
            return 0
        text = reply.render(reply.result) if reply.render else _plain(reply.result)
        if text:
            click.echo(text)
        _print_hints(reply.next_actions)
        return 0

    def failure(self, failure: Failure) -> int:
        failure = replace(failure, message=redact_text(failure.message, self.secrets),
                          result=redact(failure.result, self.secrets))
        failure = with_runbook(failure)
        if self.json_mode:
            _print_json(envelope(self.command, failure=failure), compact=self.streaming)
        else:
            show_error(failure)
        return failure.exit_code


def show_error(failure: Failure) -> None:
    """Red error and the fix on stderr, for a person at a terminal."""
    click.echo(click.style(f"error: {failure.message}", fg="red", bold=True), err=True)
    if failure.fix:
        click.echo(click.style(f"fix: {failure.fix}", fg="yellow"), err=True)
    for item in failure.next_actions[:3]:
        click.echo(click.style(f"  → {item['command']}  ({item['description']})", dim=True),
                   err=True)


def _print_json(data: dict[str, Any], compact: bool = False) -> None:
    click.echo(json.dumps(data, default=str) if compact else json.dumps(data, indent=2,
                                                                         default=str))


def with_runbook(failure: Failure) -> Failure:
    """Point an error at its runbook (`joelclaw recover <code>`) when there is one."""
    from joelclaw.cli.runbooks import RUNBOOKS

    command = f"joelclaw recover {failure.code}"
    if failure.code not in RUNBOOKS or any(a["command"] == command
                                           for a in failure.next_actions):
        return failure
    failure.next_actions = [*failure.next_actions,
                            action(f"recover {failure.code}", "the runbook for this error")]
    return failure


def _print_hints(actions: Sequence[NextAction]) -> None:
    if not actions:
        return
    click.echo()
    for item in actions[:4]:
        click.echo(click.style(f"  → {item['command']}", fg="cyan")
                   + click.style(f"  {item['description']}", dim=True))


def _plain(result: Any) -> str:
    if isinstance(result, dict):
        return key_values(result)
    return json.dumps(result, indent=2, default=str)


# ---- formatting helpers shared by the terminal renderers ----------------------------------

STATUS_COLORS = {
    "completed": "green", "running": "blue", "queued": "white", "sleeping": "cyan",
    "waiting": "cyan", "failed": "red", "cancelled": "yellow", "skipped": "magenta",
    "retrying": "yellow", "dispatched": "green", "deduplicated": "yellow",
    "ok": "green", "degraded": "yellow", "down": "red", "paused": "magenta",
}


def status(text: str | None) -> str:
    value = text or "-"
    return click.style(value, fg=STATUS_COLORS.get(value))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Left-aligned columns sized to the visible text (styles do not count)."""
    cells = [[_cell(v) for v in row] for row in rows]
    if not cells:
        return click.style("(none)", dim=True)
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(click.unstyle(value)))
    head = [click.style(h.upper(), bold=True) for h in headers]
    return "\n".join(_row(row, widths) for row in [head, *cells])


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [v + " " * (w - len(click.unstyle(v))) for v, w in zip(cells, widths, strict=True)]
    padded[-1] = cells[-1]
    return "  ".join(padded)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def key_values(pairs: dict[str, Any]) -> str:
    width = max((len(k) for k in pairs), default=0)
    return "\n".join(f"{click.style(k.ljust(width), bold=True)}  {_cell(v)}"
                     for k, v in pairs.items())


def fmt_time(epoch: float | None) -> str:
    """Local wall-clock time with its zone, as a person reads it."""
    return "-" if epoch is None else humane.stamp(epoch)


def fmt_age(epoch: float | None, now: float | None = None) -> str:
    """`3 m 10 s ago`, `in 1 h 58 m`."""
    return "-" if epoch is None else humane.relative(epoch, now)


def fmt_seconds(seconds: float) -> str:
    return humane.duration(seconds)


def fmt_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    return fmt_seconds(ms / 1000)
