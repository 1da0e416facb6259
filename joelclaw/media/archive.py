"""The media archive: every processed file copied to
`<JOELCLAW_MEDIA_ARCHIVE_DIR>/<year>/<source>/<media id>-<name>` with a JSON sidecar holding its
transcript or description (the old system's NAS layout, on a configured local folder)."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._")[:120] or "media"


def archive(root: Path, source: str, media_id: str, path: Path,
            sidecar: dict[str, Any]) -> str:
    """Copy the file (again, if asked twice: same place) and write its sidecar; the copy's
    path."""
    folder = root / time.strftime("%Y") / safe_name(source)
    folder.mkdir(parents=True, exist_ok=True)
    name = path.name if path.name.startswith(safe_name(media_id)) else \
        f"{safe_name(media_id)}-{safe_name(path.name)}"
    target = folder / name
    shutil.copy2(path, target)
    meta = target.with_name(target.name + ".json")
    tmp = meta.with_name("." + meta.name + ".tmp")
    tmp.write_text(json.dumps({**sidecar, "archived_at": time.time(), "original": str(path)},
                              indent=2, ensure_ascii=False))
    tmp.replace(meta)
    return str(target)
