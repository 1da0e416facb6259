"""Owner-only files: everything joelclaw keeps under JOELCLAW_HOME (the Redis AOF with event data
in clear, Typesense's data, backups, agent output, logs, generated credentials) is readable by
the owner alone.

Each process joelclaw starts sets the umask 077 once (`owner_only`), so every file and folder
it or its children create (Redis, Typesense, Celery, gunicorn) is 0600/0700 whoever writes it;
folders that may already exist from an older version are tightened to 0700 (`private_dir`);
secrets are written atomically with mode 0600 (`write_secret`), and a generated one is created
once and read back on every start (`stored_secret`).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

UMASK = 0o077


def owner_only() -> int:
    """Set the process umask to 077 (files 0600, folders 0700); returns the previous one."""
    return os.umask(UMASK)


def private_dir(path: Path) -> Path:
    """`path` (and missing parents) as a folder only its owner may enter (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(PermissionError):  # not ours (e.g. a shared mount): leave it
        path.chmod(0o700)
    return path


def write_secret(path: Path, text: str) -> None:
    """Atomically replace `path` with `text`, mode 0600 from its first byte."""
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def stored_secret(path: Path, make: Callable[[], str] = lambda: secrets.token_urlsafe(32)
                  ) -> str:
    """The secret kept in `path`, generated (and written 0600) the first time."""
    with contextlib.suppress(OSError):
        value = path.read_text().strip()
        if value:
            with contextlib.suppress(PermissionError):
                path.chmod(0o600)  # written by an older version with the default umask
            return value
    value = make()
    write_secret(path, value)
    return value
