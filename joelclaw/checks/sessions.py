"""Pruning old session files (the old `~/.pi/agent/sessions/**.jsonl` and `~/.claude/debug`):
files matching `JOELCLAW_SESSIONS_PRUNE_GLOB` under each of `JOELCLAW_SESSIONS_PRUNE_DIRS`,
last modified more than `JOELCLAW_SESSIONS_PRUNE_MAX_AGE_DAYS` ago, are deleted, then the
folders they leave empty. A folder that does not exist is reported, never created. Symlinks are
not followed out of a folder."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.config import Settings



def prune(settings: Settings, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    cutoff = now - settings.checks.sessions_prune_max_age_days * 86400
    out: dict[str, Any] = {"deleted": 0, "bytes": 0, "kept": 0, "folders": {}}
    for folder in settings.checks.sessions_prune_dirs:
        root = folder.expanduser()
        if not root.is_dir():
            out["folders"][str(root)] = "missing"
            continue
        deleted = 0
        for path in sorted(root.glob(settings.checks.sessions_prune_glob)):
            if path.is_symlink() or not path.is_file():
                continue
            try:
                stat = path.stat()
                if stat.st_mtime >= cutoff:
                    out["kept"] += 1
                    continue
                path.unlink()
            except FileNotFoundError:
                continue  # pruned by someone else meanwhile
            deleted += 1
            out["bytes"] += stat.st_size
        _remove_empty_dirs(root)
        out["deleted"] += deleted
        out["folders"][str(root)] = deleted
    return out


def _remove_empty_dirs(root: Path) -> None:
    for path in sorted((p for p in root.rglob("*") if p.is_dir() and not p.is_symlink()),
                       key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):  # not empty
            path.rmdir()
