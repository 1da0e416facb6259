"""The agents' inbox: one JSON file per request under JOELCLAW_AGENT_INBOX_DIR (default
`<home>/workspace/inbox/<request_id>.json`, as the old system wrote it), written atomically so
a reader never sees half a result."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def inbox_path(inbox: Path, request_id: str) -> Path:
    return inbox / f"{request_id}.json"


def write(inbox: Path, request_id: str, entry: dict[str, Any]) -> str:
    """Write (or replace) the request's inbox file; returns its path."""
    inbox.mkdir(parents=True, exist_ok=True)
    target = inbox_path(inbox, request_id)
    body = json.dumps({**entry, "request_id": request_id, "written_at": time.time()},
                      indent=2, ensure_ascii=False)
    fd, tmp = tempfile.mkstemp(dir=inbox, prefix=f".{request_id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(body + "\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return str(target)


def read(inbox: Path, request_id: str) -> dict[str, Any] | None:
    try:
        return json.loads(inbox_path(inbox, request_id).read_text())
    except (OSError, ValueError):
        return None
