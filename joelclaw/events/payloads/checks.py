"""Payloads of the heartbeat's fan-out and the checks' own events (reference §2.3/§2.4, issue
11): the old names, snake_case fields. Most requests carry nothing; `reason`/`source` say who
asked when someone other than the heartbeat does."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from joelclaw.events.payloads.base import Payload


class _Request(Payload):
    source: str | None = None
    reason: str | None = None


class TasksTriageRequested(_Request):
    task_count: int | None = Field(None, ge=0)


class SessionsPruneRequested(_Request):
    pass


class TriggersAuditRequested(_Request):
    pass


class VaultSyncCheck(_Request):
    pass


class EmailTriageRequested(_Request):
    pass


class CalendarDailyCheck(_Request):
    pass


class LoopsStaleCheck(_Request):
    pass


class HealthCheck(_Request):
    """`system/health.check` (the old manual trigger): mode `full` unless it says otherwise."""

    mode: Literal["core", "signals", "full"] = "full"
    component: str | None = None


class NetworkUpdate(Payload):
    source: str | None = None
    checked_at: float | None = None


class DigestRequested(_Request):
    date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")  # default: today, local

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is not None:
            from datetime import date

            date.fromisoformat(value)  # ValueError names the problem ("month must be in 1..12")
        return value


class DigestCreated(Payload):
    date: str
    source_path: str
    digest_path: str


MODELS: dict[str, type[BaseModel]] = {
    "tasks/triage.requested": TasksTriageRequested,
    "sessions/prune.requested": SessionsPruneRequested,
    "triggers/audit.requested": TriggersAuditRequested,
    "vault/sync.check": VaultSyncCheck,
    "email/triage.requested": EmailTriageRequested,
    "calendar/daily.check": CalendarDailyCheck,
    "loops/stale.check": LoopsStaleCheck,
    "system/health.check": HealthCheck,
    "system/network.update": NetworkUpdate,
    "memory/digest.requested": DigestRequested,
    "memory/digest.created": DigestCreated,
}
