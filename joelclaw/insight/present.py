"""How the views word what a trace says, in one place for the CLI and the dashboard: a value
nobody can know is "unknown" (never 0 or a blank that reads as 0), tries, what an execution
ended in, and the frames of a traceback that are the user's code rather than joelclaw's.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

UNKNOWN = "unknown"
_PACKAGE = str(Path(__file__).resolve().parent.parent)  # joelclaw/
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line \d+, in ')
OUTCOMES = {
    "completed": "completed", "failed": "failed", "cancelled": "cancelled",
    "sleeping": "suspended: sleeping", "waiting": "suspended: waiting",
    "queued": "suspended: a step retries later", "retrying": "error outside any step: retried",
    "deferred": "deferred (spent no attempt)",
}


def known(value: Any) -> str:
    """The value as text, or "unknown" when it is None."""
    return UNKNOWN if value is None else str(value)


def tries(step: dict[str, Any]) -> str:
    return known(step.get("tries"))


def outcome(execution: dict[str, Any]) -> str:
    """What one execution of a run ended in, in words."""
    name = execution.get("outcome") or UNKNOWN
    return OUTCOMES.get(name, name)


def user_frames(stack: str | None, keep: int = 3) -> list[str]:
    """The last `keep` frames of a traceback that are not joelclaw's or a library's, with
    their source lines, then the exception line(s): where the user's code failed."""
    lines = (stack or "").rstrip().splitlines()
    frames: list[list[str]] = []
    tail: list[str] = []
    for line in lines:
        match = _FRAME.match(line)
        if match:
            frames.append([line])
            tail = []
        elif line.startswith("  ") and frames and not tail:
            frames[-1].append(line)
        elif not line.startswith("Traceback") and line.strip():
            tail.append(line)
    ours = [f for f in frames
            if not _library(_FRAME.match(f[0]).group("path"))]  # type: ignore[union-attr]  # frames start at a match
    chosen = (ours or frames)[-keep:]
    return [line for frame in chosen for line in frame] + tail[-3:]


def _library(path: str) -> bool:
    return (path.startswith(_PACKAGE) or "site-packages" in path or "/lib/python" in path
            or path.startswith("<"))
