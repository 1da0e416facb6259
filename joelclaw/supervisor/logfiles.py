"""Per-process log files under JOELCLAW_HOME/logs, beside `up`'s prefixed terminal stream.

Each line is stamped with the local time (ISO 8601, milliseconds) so `joelclaw logs` can merge
processes in order; a file that grows past `max_bytes` is renamed to `<name>.log.1` (one
generation kept), so a chatty worker cannot fill the disk.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from pathlib import Path
from typing import TextIO

MAX_BYTES = 20 * 1024 * 1024


def log_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.log"


def stamp_line(text: str, when: datetime | None = None) -> str:
    moment = (when or datetime.now()).astimezone()
    return f"{moment.isoformat(timespec='milliseconds')} {text}\n"


def parse_line(line: str) -> tuple[float | None, str]:
    """(unix time, text) of a stamped line; (None, line) for one written some other way."""
    head, _, rest = line.rstrip("\n").partition(" ")
    try:
        return datetime.fromisoformat(head).timestamp(), rest
    except ValueError:
        return None, line.rstrip("\n")


class LogFiles:
    """Appends each process's lines to its own file; callers serialise writes (Output's lock)."""

    def __init__(self, directory: Path, *, max_bytes: int = MAX_BYTES):
        self.directory = directory
        self.max_bytes = max_bytes
        self._files: dict[str, TextIO] = {}

    def write(self, name: str, text: str) -> None:
        with contextlib.suppress(OSError):  # a full disk must not stop the supervisor
            handle = self._files.get(name) or self._open(name)
            handle.write(stamp_line(text))
            handle.flush()
            if handle.tell() > self.max_bytes:
                self._rotate(name)

    def _open(self, name: str) -> TextIO:
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = log_path(self.directory, name).open("a", encoding="utf-8")
        self._files[name] = handle
        return handle

    def _rotate(self, name: str) -> None:
        self._files.pop(name).close()
        path = log_path(self.directory, name)
        path.replace(path.with_name(path.name + ".1"))

    def close(self) -> None:
        for handle in self._files.values():
            with contextlib.suppress(OSError):
                handle.close()
        self._files.clear()
