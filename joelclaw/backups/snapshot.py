"""A Typesense backup: `POST /operations/snapshot?snapshot_path=<dir>` makes the server write a
snapshot of its data to that directory, on the server's file system. With the embedded server
(or any on this machine) that directory is the backup; a remote server writes it on its host,
which the result says (rotation can only act on what is here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from joelclaw.integrations.typesense import SearchClient


def take(client: SearchClient, target: Path) -> dict[str, Any]:
    answer = client.snapshot(str(target))
    local = target.is_dir()
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) if local else 0
    return {"success": bool(answer.get("success", True)), "local": local, "bytes": size,
            "files": sum(1 for p in target.rglob("*") if p.is_file()) if local else 0}
