"""The telemetry hook's event half: a step that failed or will be retried, and a run that
failed, become telemetry events (stored in `otel_events` by the flusher). A successful
execution writes nothing: the cheap path does no I/O."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw.bus.execution import Observed
from joelclaw.telemetry.events import TelemetryEvent, emit

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records import Run, StepTrace


class ExecutionEvents:
    def __init__(self, bus: Bus, function_id: str, run: Run) -> None:
        self.bus, self.function_id, self.run = bus, function_id, run

    def step(self, record: StepTrace) -> None:
        status = record.status
        if status not in ("failed", "retrying") or record.deferred:
            return
        error = record.error or {}
        started = record.attempt_started_at or record.started_at
        ended = record.ended_at
        emit(self.bus.redis, TelemetryEvent(
            level="error" if status == "failed" else "warn", source="worker",
            component=self.function_id, action=f"step.{status}", success=False,
            duration_ms=int((ended - started) * 1000) if started and ended else None,
            error=f"{error.get('name', 'Error')}: {error.get('message', '')}",
            run_id=self.run.id, function_id=self.function_id,
            metadata={"step": record.key, "attempt": record.get("attempts"),
                      "event": (self.run.event or {}).get("name")}), self.bus.settings)

    def end(self, status: str | None, fields: dict[str, Any]) -> None:
        if status != "failed":
            return
        error = fields.get("error") or {}
        emit(self.bus.redis, TelemetryEvent(
            level="error", source="worker", component=self.function_id, action="run.failed",
            success=False, duration_ms=int(fields.get("execution_ms") or 0),
            error=f"{error.get('name', 'Error')}: {error.get('message', '')}",
            run_id=self.run.id, function_id=self.function_id,
            metadata={"event": (self.run.event or {}).get("name"),
                      "attempts": self.run.attempts}), self.bus.settings)


class Both:
    """Spans and events of one execution; one part failing does not stop the other."""

    def __init__(self, *parts: Any) -> None:
        self.parts = [Observed(part) for part in parts]

    def step(self, record: StepTrace) -> None:
        for part in self.parts:
            part.step(record)

    def end(self, status: str | None, fields: dict[str, Any]) -> None:
        for part in self.parts:
            part.end(status, fields)
