"""Where a piece of derived data came from: the event, the run and the step that wrote it.

Every writer of derived data (memory observations, MEMORY.md lines, the daily log, cache
entries, telemetry records) stamps what it writes with `current()`, read from the step being
executed (a context variable), so `joelclaw forget` can find everything one event led to.
Outside a step there is no provenance (None), and writers write as before.
"""

from __future__ import annotations

import re
from typing import Any

FIELDS = ("event", "run", "step")
_COMMENT = re.compile(r"\s*<!--\s*prov\s+([^>]*?)\s*-->")


def current() -> dict[str, str] | None:
    """{"event", "run", "step", "function"} of the step running now, or None."""
    from joelclaw.bus.execution.stepnotes import current as current_note

    note = current_note()
    if note is None:
        return None
    return {"event": note.event_id, "run": note.run_id, "step": note.step,
            "function": note.function_id}


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
