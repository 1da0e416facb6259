"""Payloads of joelclaw's own events: function outcomes, cron ticks, the system log, absence,
provider breakers and effect budgets."""

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


class BreakerChanged(Payload):
    """A provider's circuit breaker opened (the provider fails) or closed (it answers again)."""

    service: str
    since: float  # when it opened (for `closed`: when the outage began)
    error: str | None = None  # the failure that opened it


class BudgetExceeded(Payload):
    """A run (or a function's runs in a window) reached an effect budget: it waits, and the
    owner was asked (`ask_id`: allow once, allow for the day, stop)."""

    ask_id: str
    function_id: str
    run_id: str
    kind: Literal["notify", "write", "llm_usd"]
    scope: Literal["run", "function"]
    cap: float
    spent: float


class BudgetAnswered(Payload):
    """The owner's answer to an effect budget's question, and the runs it applied to."""

    ask_id: str
    function_id: str
    kind: Literal["notify", "write", "llm_usd"]
    answer: Literal["once", "day", "stop"]
    by: str
    runs: list[str]


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
    "joelclaw/breaker.opened": BreakerChanged,
    "joelclaw/breaker.closed": BreakerChanged,
    "joelclaw/budget.exceeded": BudgetExceeded,
    "joelclaw/budget.answered": BudgetAnswered,
}
