"""Where backups go: `<JOELCLAW_BACKUP_DIR>/<target>/<prefix>-<stamp><suffix>`, the stamp being
the local time in JOELCLAW_TIMEZONE (sortable: YYYYMMDD-HHMMSS). Unset folder: a BackupSkipped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from joelclaw.errors import JoelclawError
from joelclaw.ownerfiles import private_dir

if TYPE_CHECKING:
    from joelclaw.config import Settings

STAMP = "%Y%m%d-%H%M%S"
STAMP_RE = r"\d{8}-\d{6}"
NO_BACKUP_DIR = "no backup folder configured: set JOELCLAW_BACKUP_DIR"
REDIS = ("redis", "dump-", ".rdb")  # (sub-folder, prefix, suffix)
TYPESENSE = ("typesense", "snapshot-", "")


class BackupSkipped(JoelclawError):
    """This backup cannot be made here, for a reason a retry will not change."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def stamp(timezone: str, now: datetime | None = None) -> str:
    return (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone)).strftime(STAMP)


def folder(settings: Settings, kind: tuple[str, str, str]) -> Path:
    """The target's folder, created owner-only (a dump holds every event in clear);
    BackupSkipped when no backup folder is configured."""
    if settings.backups.dir is None:
        raise BackupSkipped(NO_BACKUP_DIR)
    target = settings.backups.dir.expanduser().resolve() / kind[0]
    try:
        private_dir(target)
    except OSError as exc:
        raise BackupSkipped(f"cannot create {target}: {exc.strerror or exc}") from None
    return target


def name(kind: tuple[str, str, str], when: str) -> str:
    return f"{kind[1]}{when}{kind[2]}"
