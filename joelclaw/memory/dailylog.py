"""The daily log: `<memory dir>/memory/<YYYY-MM-DD>.md`, a human-readable trail of what memory
did that day. Each entry carries a marker so it is appended once, however often a step runs,
and (written by a step) a `<!-- prov event=... run=... step=... -->` line saying where it came
from. `entries` splits a day into them (what `joelclaw forget` removes one at a time)."""

from __future__ import annotations

import fcntl
from pathlib import Path

from joelclaw import provenance


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
            # the entry's provenance rides on its own comment line, after the marker
            prov = provenance.comment().strip()
            handle.write(f"{head}\n{tag}\n{prov + chr(10) if prov else ''}{text.rstrip()}\n")
            handle.flush()
        return True

    def entries(self, date: str) -> list[str]:
        """The day's entries, each from its marker line to the next (the header first)."""
        return split_entries(self.read(date))

    def rewrite(self, date: str, text: str) -> None:
        """Replace a day's log atomically (a temporary file renamed over it)."""
        path = self.path(date)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        temporary.replace(path)


def split_entries(text: str) -> list[str]:
    """Chunks starting at each `<!-- marker -->` line; the text before the first is one too."""
    chunks: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("<!-- ") and not line.startswith("<!-- prov ") and current:
            while current and not current[-1].strip():  # the blank line belongs to the next
                current.pop()
            chunks.append("".join(current))
            current = ["\n"]
        current.append(line)
    if current:
        chunks.append("".join(current))
    return chunks
