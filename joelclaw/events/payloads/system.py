"""Payloads of joelclaw's own events: function outcomes, cron ticks, the system log."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from joelclaw.events.payloads.base import Payload


class LogWritten(Payload):
    action: str
    tool: str
    detail: str
    reason: str | None = None


class HeartbeatWake(Payload):
    pass


class FunctionFailed(Payload):
    function_id: str
    run_id: str
    error: dict[str, Any]
    event: dict[str, Any]


class FunctionCancelled(Payload):
    function_id: str
    run_id: str
    event: dict[str, Any]
    reason: str | None = None


class CronTick(Payload):
    """One cron slot of one function; the event id is the function id plus the slot."""

    function_id: str
    cron: str
    timezone: str
    slot: str


class HealthRequested(Payload):
    mode: Literal["core", "signals", "full"] = "core"
    source: str | None = None
    component: str | None = None


SYSTEM_MODELS: dict[str, type[BaseModel]] = {
    "system/log.written": LogWritten,
    "system/heartbeat.wake": HeartbeatWake,
    "system/health.requested": HealthRequested,
    "joelclaw/function.failed": FunctionFailed,
    "joelclaw/function.cancelled": FunctionCancelled,
    "joelclaw/cron.tick": CronTick,
}
