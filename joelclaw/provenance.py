"""Where a piece of derived data came from: the event, the run and the step that wrote it.

Every writer of derived data (memory observations, MEMORY.md lines, the daily log, cache
entries, telemetry records) stamps what it writes with `current()`, set by the step runner
around each step's callable (a context variable: `within`), so `joelclaw forget` can find
everything one event led to. A leaf: it imports nothing of the bus.
Outside a step there is no provenance (None), and writers write as before.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator
from typing import Any

FIELDS = ("event", "run", "step")
_COMMENT = re.compile(r"\s*<!--\s*prov\s+([^>]*?)\s*-->")
_current: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "joelclaw_provenance", default=None)


def current() -> dict[str, str] | None:
    """{"event", "run", "step", "function"} of the step running now, or None."""
    return _current.get()


@contextlib.contextmanager
def within(event: str, run: str, step: str, function: str) -> Iterator[None]:
    """Make what the block writes carry this provenance (the step runner's business)."""
    token = enter(event, run, step, function)
    try:
        yield
    finally:
        leave(token)


def enter(event: str, run: str, step: str, function: str) -> contextvars.Token[Any]:
    """`within` for a caller that keeps the token itself (the step runner, once per step);
    `leave(token)` ends it."""
    return _current.set({"event": event, "run": run, "step": step, "function": function})


def leave(token: contextvars.Token[Any]) -> None:
    _current.reset(token)


def stamp(target: dict[str, Any], prov: dict[str, str] | None = None) -> dict[str, Any]:
    """`target` with the provenance fields `event_id`, `run_id`, `step` (a flat schema)."""
    prov = prov if prov is not None else current()
    if prov:
        target.update(event_id=prov["event"], run_id=prov["run"], step=prov["step"])
    return target


def comment(prov: dict[str, str] | None = None) -> str:
    """An invisible Markdown comment carrying the provenance ('' outside a step)."""
    prov = prov if prov is not None else current()
    if not prov:
        return ""
    return " <!-- prov " + " ".join(f"{k}={prov[k]}" for k in FIELDS if prov.get(k)) + " -->"


def parse_comment(line: str) -> dict[str, str]:
    """The provenance a line's comment carries ({} when none)."""
    found = _COMMENT.search(line)
    if not found:
        return {}
    return dict(part.split("=", 1) for part in found.group(1).split() if "=" in part)


def strip_comment(line: str) -> str:
    return _COMMENT.sub("", line)
