"""The append-only system log (`system/log.written` -> JOELCLAW_HOME/logs/system.jsonl): one
redacted JSON line per entry, appended under a file lock so workers never interleave lines. The
log outlives the event and is read by people and tools that never need its secrets."""

from __future__ import annotations

import fcntl
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw.redaction import configured_secrets, redact

if TYPE_CHECKING:
    from joelclaw.config import Settings


def path(settings: Settings) -> Path:
    return settings.home_dir / "logs" / "system.jsonl"


def line(settings: Settings, entry: dict[str, Any]) -> str:
    """The entry as one JSON line with every configured or secret-shaped value redacted."""
    return json.dumps(redact(entry, configured_secrets(settings)))


def append(where: str, text: str) -> bool:
    """Append one line to the log at `where` (its folder made when missing)."""
    target = Path(where)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(text + "\n")
    return True
