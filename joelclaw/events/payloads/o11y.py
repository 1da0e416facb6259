"""Payloads of the o11y triage's events (reference §1.2 #31, §2.4)."""

from __future__ import annotations

from pydantic import BaseModel

from joelclaw.events.payloads.base import Payload


class TriageRequested(Payload):
    """`check/o11y-triage.requested`: triage now (the cron does it every 15 minutes)."""

    source: str | None = None


class Escalated(Payload):
    """`o11y/triage.escalated`: a tier-3 failure was filed, handed to an agent, and (within
    the hourly limit) sent to the owner with a snooze button."""

    dedup_key: str
    component: str
    action: str
    error: str
    count: int
    telegram: bool
    task_id: str | None = None
    request_id: str


MODELS: dict[str, type[BaseModel]] = {
    "check/o11y-triage.requested": TriageRequested,
    "o11y/triage.escalated": Escalated,
}
