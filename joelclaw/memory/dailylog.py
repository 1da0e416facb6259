"""The daily log: `<memory dir>/memory/<YYYY-MM-DD>.md`, a human-readable trail of what memory
did that day. Each entry carries a marker so it is appended once, however often a step runs."""

from __future__ import annotations

import fcntl
from pathlib import Path


class DailyLog:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, date: str) -> Path:
        return self.directory / f"{date}.md"

    def read(self, date: str) -> str:
        try:
            return self.path(date).read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def append_once(self, date: str, marker: str, text: str) -> bool:
        """Append `text` under an invisible marker; False if the marker is already there."""
        path = self.path(date)
        path.parent.mkdir(parents=True, exist_ok=True)
        tag = f"<!-- {marker} -->"
        with path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            existing = handle.read()
            if tag in existing:
                return False
            head = "" if existing else f"# {date}\n"
            handle.write(f"{head}\n{tag}\n{text.rstrip()}\n")
            handle.flush()
        return True
