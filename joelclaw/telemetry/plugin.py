"""How telemetry plugs in, without the bus knowing it.

`install(runtime)` offers `ctx.telemetry` to functions and registers the bus's telemetry hook
(joelclaw.bus.execution.telemetry.HOOK): every execution gets an observer that turns failures
into telemetry events and, only when `JOELCLAW_OTEL_ENDPOINT` is set, its run and steps into
OpenTelemetry spans (the SDK and the exporter are not even imported otherwise). It installs
the LLM usage sink (spend), and gives workers a flusher thread that moves queued telemetry
events into Typesense every `JOELCLAW_OTEL_FLUSH_SECONDS`, and flushes pending spans when a
pool process exits.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from celery import Celery, bootsteps
from celery.signals import worker_process_shutdown

from joelclaw.bus.execution import TELEMETRY_HOOK
from joelclaw.integrations import usage
from joelclaw.telemetry import spend
from joelclaw.telemetry.failures import Both, ExecutionEvents

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records import Run
    from joelclaw.telemetry.tracing import RunTracer

log = logging.getLogger("joelclaw.telemetry")
SERVICE = "telemetry"  # ctx.telemetry (joelclaw.telemetry.service)


class Telemetry:
    """The hook: one per runtime; the tracer is built on first use (after any fork)."""

    def __init__(self, bus: Bus, tracer: RunTracer | None = None) -> None:
        self.bus = bus
        self._tracer = tracer
        self._lock = threading.Lock()

    def tracer(self) -> RunTracer | None:
        if self._tracer is None and self.bus.settings.telemetry.endpoint:
            with self._lock:
                if self._tracer is None:
                    from joelclaw.telemetry.tracing import RunTracer

                    self._tracer = RunTracer(self.bus.settings)
        return self._tracer

    def __call__(self, function_id: str, run: Run, member: tuple[str, int] | None,
                 started: float) -> Any:
        events = ExecutionEvents(self.bus, function_id, run)
        tracer = self.tracer()
        spans = tracer.execution(function_id, run, member, started) if tracer else None
        return events if spans is None else Both(events, spans)

    def flush_spans(self) -> None:
        if self._tracer is not None:
            self._tracer.force_flush()


def install(bus: Bus) -> Any:
    hook = Telemetry(bus)
    bus.hooks[TELEMETRY_HOOK] = hook
    usage.set_sink(spend.recorder(bus))

    def telemetry(ctx: Any) -> Any:
        from joelclaw.telemetry.service import TelemetryService

        return TelemetryService(bus, ctx.run_id, ctx.function_id)

    bus.services[SERVICE] = telemetry

    def setup(app: Celery) -> None:
        app.steps["worker"].add(type("TelemetryStep", (TelemetryStep,), {"bus": bus}))

        @worker_process_shutdown.connect(weak=False)
        def _flush(**_: Any) -> None:
            hook.flush_spans()

    return setup


_clients: dict[tuple[str, str], Any] = {}


def flush_events(bus: Bus) -> int:
    """Move queued telemetry events into `otel_events` now (0 without Typesense)."""
    from joelclaw.integrations.typesense import SearchClient, resolve_endpoint
    from joelclaw.telemetry.events import flush

    endpoint = resolve_endpoint(bus.settings)
    if endpoint is None:
        return 0
    key = (endpoint.url, endpoint.api_key)
    search = _clients.get(key)
    if search is None:
        search = _clients[key] = SearchClient(endpoint.url, endpoint.api_key,
                                              timeout=bus.settings.typesense.timeout_seconds)
    return flush(bus.redis, search)


class TelemetryStep(bootsteps.StartStopStep):
    """The flusher thread, in every worker's main process."""

    bus: Bus

    def __init__(self, worker: Any, **kwargs: Any):
        super().__init__(worker, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, worker: Any) -> None:
        self._thread = threading.Thread(target=self._loop, name="joelclaw-telemetry",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        period = self.bus.settings.telemetry.flush_seconds
        while not self._stop.wait(period):
            try:
                flush_events(self.bus)
            except Exception as exc:  # Typesense down: the events wait in Redis (capped)
                log.info("telemetry flush failed, retrying in %ss: %s", period, exc)

    def stop(self, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            flush_events(self.bus)
        except Exception:
            log.info("final telemetry flush failed", exc_info=True)
