"""Keep the newest N backups of one kind; only names this system wrote (prefix, stamp, suffix)
are ever considered, so other files in the folder are never touched."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from joelclaw.backups.layout import STAMP_RE


@dataclass(frozen=True)
class Rotated:
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def ours(folder: Path, prefix: str, suffix: str) -> list[Path]:
    """This kind's backups in `folder`, oldest first (the stamps sort as text)."""
    pattern = re.compile(re.escape(prefix) + STAMP_RE + re.escape(suffix) + "$")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if pattern.match(p.name))


def rotate(folder: Path, prefix: str, suffix: str, keep: int) -> Rotated:
    found = ours(folder, prefix, suffix)
    old, new = found[:-keep] if keep else found, found[-keep:] if keep else []
    for path in old:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return Rotated([p.name for p in new], [p.name for p in old])
