"""Payloads of the backup events: an on-demand request and each backup's outcome. The old system
ran its backups from crons only; `system/backup.requested` runs them now."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from joelclaw.events.payloads.base import Payload

Target = Literal["redis", "typesense", "all"]


class BackupRequested(Payload):
    target: Target = "all"
    reason: str | None = None


class BackupCompleted(Payload):
    target: Literal["redis", "typesense"]
    status: Literal["completed", "skipped"]
    path: str | None = None
    reason: str | None = None
    bytes: int = Field(0, ge=0)
    via: str | None = None  # redis: "copy" (the dump file) or "redis-cli --rdb" (streamed)
    kept: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


MODELS: dict[str, type[BaseModel]] = {
    "system/backup.requested": BackupRequested,
    "system/backup.completed": BackupCompleted,
}
