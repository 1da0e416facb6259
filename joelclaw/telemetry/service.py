"""`ctx.telemetry`: what functions ask of telemetry, bound to the runtime and the run: record an
event, wait out the LLM budget, and the o11y triage's scan and dedup (joelclaw.telemetry.triage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw.telemetry import spend, triage
from joelclaw.telemetry.events import TelemetryEvent, emit

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


class TelemetryService:
    """One per execution (the context builds it on first use of `ctx.telemetry`)."""

    def __init__(self, bus: Bus, run_id: str | None, function_id: str | None) -> None:
        self._bus, self._run_id, self._function_id = bus, run_id, function_id

    def emit(self, action: str, *, component: str, source: str = "worker",
             level: str = "info", metadata: dict[str, Any] | None = None,
             function_id: str | None = None) -> None:
        """Queue one telemetry event (redacted) for `otel_events`, tagged with this run."""
        emit(self._bus.redis, TelemetryEvent(
            level=level, source=source, component=component, action=action,
            run_id=self._run_id, function_id=function_id or self._function_id,
            metadata=metadata or {}), self._bus.settings)

    def allow_background(self, what: str) -> None:
        """Return if background LLM work may run now; else raise Defer until the next day."""
        spend.allow_background(self._bus, what)

    def triage_scan(self) -> dict[str, Any] | None:
        """The failed telemetry events since the last scan, grouped; None without Typesense
        (the events live there)."""
        from joelclaw.integrations.typesense import SearchClient, resolve_endpoint

        if resolve_endpoint(self._bus.settings) is None:
            return None
        return triage.scan(self._bus, SearchClient.from_settings(self._bus.settings))

    def fresh(self, key: str) -> bool:
        """True once per dedup window for a failure's key; a snoozed key is never fresh."""
        return triage.fresh(self._bus, key)

    def escalation_slot(self, key: str) -> bool:
        """True while this hour has room for another Telegram escalation (and takes it)."""
        return triage.escalation_slot(self._bus, key)
