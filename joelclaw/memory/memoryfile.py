"""MEMORY.md: what was learned for good, in six sections, changed only atomically.

A promotion appends `- (YYYY-MM-DD) <change>` under its `## <section>` heading. The new text is
written to a temporary file in the same directory, flushed and renamed over MEMORY.md, so a
reader sees the old file or the new one, never half of either. The file being replaced is kept
as `MEMORY.md.bak` (the rollback copy). Writers take a file lock; a hand edit made while a
promotion was being prepared (the file changed since it was read) is noticed before the rename,
and the bullet is applied again on top of the edited text, so the edit survives. A bullet
written by a step ends with an invisible `<!-- prov event=... run=... step=... -->` comment.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from joelclaw import provenance
from joelclaw.errors import JoelclawError

SECTIONS = ("Joel", "Hard Rules", "System Architecture", "Patterns", "Conventions",
            "Miller Hooks")
HEADER = "# MEMORY\n\nWhat joelclaw has learned, promoted from reviewed proposals.\n"
ATTEMPTS = 5
_BULLET = re.compile(r"^\s*-\s+(?:\(\d{4}-\d{2}-\d{2}\)\s*)?(.*\S)\s*$")


class MemoryFileBusy(JoelclawError):
    """MEMORY.md kept changing under every attempt to promote into it."""

    code = "MEMORY_FILE_BUSY"


def template() -> str:
    return HEADER + "".join(f"\n## {section}\n" for section in SECTIONS)


class MemoryFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.backup = path.with_name(path.name + ".bak")
        self.lock_path = path.with_name(f".{path.name}.lock")

    def read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return template()

    def bullets(self, text: str | None = None) -> list[str]:
        """Every bullet's text, without its `- (date)` prefix."""
        lines = (self.read() if text is None else text).splitlines()
        return [m.group(1) for line in lines
                if (m := _BULLET.match(provenance.strip_comment(line)))]

    def section_of(self, text: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        current = None
        for line in text.splitlines():
            if line.startswith("## "):
                current = line[3:].strip()
                out.setdefault(current, [])
            elif current and (m := _BULLET.match(provenance.strip_comment(line))):
                out[current].append(m.group(1))
        return out

    def append(self, section: str, change: str, date: str) -> bool:
        """Append the bullet under `section`; False if that exact bullet is already there."""
        if section not in SECTIONS:
            raise ValueError(f"unknown MEMORY.md section {section!r}: one of {SECTIONS}")
        bullet = f"- ({date}) {' '.join(change.split())}"
        stamped = bullet + provenance.comment()  # where it came from, invisible when rendered
        with self._locked():
            for _ in range(ATTEMPTS):
                before = self.read()
                if bullet in (provenance.strip_comment(line) for line in before.splitlines()):
                    return False
                if self._replace(before, insert(before, section, stamped)):
                    return True
        raise MemoryFileBusy(f"{self.path} changed during {ATTEMPTS} attempts to promote into "
                             "it; nothing was written, try again")

    def _replace(self, before: str, after: str) -> bool:
        """Write `after` unless the file no longer holds `before`; True when written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with temporary.open("w", encoding="utf-8") as handle:
                handle.write(after)
                handle.flush()
                os.fsync(handle.fileno())
            if _digest(self.read()) != _digest(before):
                return False  # edited by hand since we read it: apply again on the new text
            if self.path.exists():
                shutil.copy2(self.path, self.backup)
            os.replace(temporary, self.path)
            return True
        finally:
            temporary.unlink(missing_ok=True)

    def remove_lines(self, doomed: Callable[[str], bool]) -> list[str]:
        """Drop every line `doomed` picks, through the same atomic write as a promotion; the
        rollback copy is removed too, since it would still hold them. Returns the lines."""
        with self._locked():
            for _ in range(ATTEMPTS):
                before = self.read() if self.path.exists() else ""
                lines = before.splitlines(keepends=True)
                gone = [line for line in lines if doomed(line)]
                if not gone:
                    break
                if self._replace(before, "".join(kept for kept in lines if not doomed(kept))):
                    self.backup.unlink(missing_ok=True)
                    return [line.rstrip("\n") for line in gone]
            else:
                raise MemoryFileBusy(f"{self.path} changed during {ATTEMPTS} attempts to "
                                     "forget in it; nothing was removed, try again")
        return []

    def rollback(self) -> bool:
        """Put the rollback copy back (the state before the last promotion)."""
        with self._locked():
            if not self.backup.exists():
                return False
            os.replace(self.backup, self.path)
            return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock_path.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


def insert(text: str, section: str, bullet: str) -> str:
    """`text` with `bullet` as the last line of `## section` (the section added if missing)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"## {section}"), None)
    if start is None:
        body = text.rstrip("\n")
        return f"{body}\n\n## {section}\n{bullet}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
               len(lines))
    last = end
    while last > start + 1 and not lines[last - 1].strip():
        last -= 1
    lines.insert(last, bullet)
    return "\n".join(lines) + "\n"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
