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


class CatchUp(Payload):
    """The fires a cron missed while nothing ran, and what its policy did about them."""

    policy: Literal["skip", "latest", "all"]
    missed: int
    dropped: int
    since: str  # the newest slot handled before the gap
    late_s: float  # how late this slot is dispatched


class CronTick(Payload):
    """One cron slot of one function; the event id is the function id plus the slot."""

    function_id: str
    cron: str
    timezone: str
    slot: str
    catch_up: CatchUp | None = None  # set when this run stands for missed fires


class AbsenceDetected(Payload):
    """An absence trigger's silence: no `event` (for `key`) arrived for `for_s` seconds."""

    function_id: str
    event: str
    key: str | None = None
    for_s: float
    since: float  # the last matching event arrived then (or the watch began)
    silent_s: float
    last_event_id: str | None = None


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
    "joelclaw/absence.detected": AbsenceDetected,
}
