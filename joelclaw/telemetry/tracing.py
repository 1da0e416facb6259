"""Runs and steps as OpenTelemetry spans, through the SDK.

One trace per run, whatever the number of executions: the trace id and the run span's id are
derived from the run id, so the executions of a run that slept for a day still join one trace.
Each execution is a span (child of the run span); each step attempt a span (child of its
execution) with the times the trace record holds; the run span itself is emitted when the run
ends, from its start to its end. Attributes are redacted (joelclaw.redaction) before they
reach the SDK. Export is OTLP/HTTP through a BatchSpanProcessor (off the executing thread).
"""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from joelclaw.bus.records import TERMINAL
from joelclaw.redaction import configured_secrets, redact_text

if TYPE_CHECKING:
    from joelclaw.bus.records import Run, StepTrace
    from joelclaw.config import Settings

TRACES_PATH = "/v1/traces"
SHORT = 200


def trace_id_of(run_id: str) -> int:
    return int(hashlib.sha256(run_id.encode()).hexdigest()[:32], 16) or 1


def run_span_id_of(run_id: str) -> int:
    return int(hashlib.sha256(f"{run_id}:run".encode()).hexdigest()[:16], 16) or 1


class _Ids(IdGenerator):
    """Random ids, except for the run span, whose ids are the run's (set per thread)."""

    def __init__(self) -> None:
        self._random = RandomIdGenerator()
        self._fixed = threading.local()

    def fix(self, trace_id: int | None, span_id: int | None) -> None:
        self._fixed.ids = (trace_id, span_id)

    def _take(self, index: int) -> int | None:
        ids = getattr(self._fixed, "ids", None)
        return ids[index] if ids else None

    def generate_span_id(self) -> int:
        return self._take(1) or self._random.generate_span_id()

    def generate_trace_id(self) -> int:
        return self._take(0) or self._random.generate_trace_id()


def _ns(seconds: float | None) -> int | None:
    return int(seconds * 1e9) if seconds else None


class RunTracer:
    """The telemetry hook's span half: `execution(...)` per execution."""

    def __init__(self, settings: Settings, processor: SpanProcessor | None = None) -> None:
        self.secrets = configured_secrets(settings)
        self.ids = _Ids()
        self.ratio = TraceIdRatioBased(settings.telemetry.sample_ratio)
        self.provider = TracerProvider(
            resource=Resource.create({"service.name": settings.telemetry.service_name}),
            id_generator=self.ids, sampler=ParentBased(self.ratio))
        if processor is None:
            processor = BatchSpanProcessor(otlp_exporter(settings.telemetry.endpoint or ""))
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("joelclaw.bus")

    def shutdown(self) -> None:
        self.provider.shutdown()

    def force_flush(self) -> None:
        self.provider.force_flush()

    def clean(self, value: Any) -> Any:
        """Redacted; short strings (function ids, step keys, event names repeat) memoized."""
        if isinstance(value, str):
            if len(value) <= SHORT:
                return self._short(value)
            return redact_text(value, self.secrets)[:4000]
        return value

    @lru_cache(maxsize=4096)  # noqa: B019 (one tracer per runtime, kept for its lifetime)
    def _short(self, value: str) -> str:
        return redact_text(value, self.secrets)

    def attrs(self, values: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        """Redacted attributes; the run id is the bus's own (not user data: not redacted,
        and unique, so not worth memoizing)."""
        out = {k: self.clean(v) for k, v in values.items()
               if v is not None and isinstance(v, str | bool | int | float)}
        if run_id is not None:
            out["joelclaw.run.id"] = run_id
        return out

    def sampled(self, run_id: str) -> bool:
        """The ratio sampler's decision for the run's trace id (the same in every process)."""
        return trace_id_of(run_id) & TraceIdRatioBased.TRACE_ID_LIMIT < self.ratio.bound

    def execution(self, function_id: str, run: Run, member: tuple[str, int] | None,
                  started: float) -> ExecutionSpans | None:
        if not self.sampled(run.id):
            return None
        return ExecutionSpans(self, function_id, run, member, started)


def otlp_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    base = endpoint.rstrip("/")
    url = base if base.endswith(TRACES_PATH) else base + TRACES_PATH
    return OTLPSpanExporter(endpoint=url, timeout=10)


class ExecutionSpans:
    def __init__(self, tracer: RunTracer, function_id: str, run: Run,
                 member: tuple[str, int] | None, started: float) -> None:
        self.t, self.function_id, self.run, self.started = tracer, function_id, run, started
        parent = SpanContext(trace_id_of(run.id), run_span_id_of(run.id), is_remote=True,
                             trace_flags=TraceFlags(TraceFlags.SAMPLED))
        self.parent = trace.set_span_in_context(NonRecordingSpan(parent))
        name = f"execute {function_id}" + (f" [{member[0]}:{member[1]}]" if member else "")
        self.span = tracer.tracer.start_span(
            name, context=self.parent, kind=SpanKind.CONSUMER, start_time=_ns(started),
            attributes=tracer.attrs({"joelclaw.function.id": function_id,
                                     "joelclaw.event.name": (run.event or {}).get("name"),
                                     "joelclaw.run.attempt": run.attempts,
                                     "joelclaw.run.execution": run.executions + 1}, run.id))
        self.inside = trace.set_span_in_context(self.span)

    def step(self, record: StepTrace) -> None:
        t = self.t
        llm = record.llm or {}
        error = record.error or {}
        span = t.tracer.start_span(
            f"step {record.key}", context=self.inside,
            start_time=_ns(record.attempt_started_at or record.started_at),
            attributes=t.attrs({
                "joelclaw.function.id": self.function_id,
                "joelclaw.step.key": record.key, "joelclaw.step.type": record.type,
                "joelclaw.step.status": record.status,
                "joelclaw.step.attempt": record.get("attempts"),
                "joelclaw.step.output": record.output
                if isinstance(record.output, str) else None,
                "joelclaw.step.deferred": record.deferred,
                "gen_ai.usage.input_tokens": llm.get("input_tokens"),
                "gen_ai.usage.output_tokens": llm.get("output_tokens"),
                "joelclaw.llm.cost_usd": llm.get("cost_usd"),
                "joelclaw.llm.calls": llm.get("calls"),
            }, self.run.id))
        if record.status == "failed" or (record.status == "retrying" and not record.deferred):
            message = t.clean(f"{error.get('name', 'Error')}: {error.get('message', '')}")
            span.set_status(Status(StatusCode.ERROR, message))
            span.add_event("exception", t.attrs({
                "exception.type": error.get("name"), "exception.message": error.get("message"),
                "exception.stacktrace": error.get("stack")}))
        span.end(end_time=_ns(record.ended_at))

    def end(self, status: str | None, fields: dict[str, Any]) -> None:
        t, run = self.t, self.run
        error = fields.get("error") or {}
        self.span.set_attributes(t.attrs({"joelclaw.run.status": status,
                                          "joelclaw.execution_ms": fields.get("execution_ms")}))
        if status == "failed":
            self.span.set_status(Status(StatusCode.ERROR, t.clean(error.get("message", ""))))
        self.span.end()
        if status not in TERMINAL:
            return
        t.ids.fix(trace_id_of(run.id), run_span_id_of(run.id))
        try:
            span = t.tracer.start_span(
                f"run {self.function_id}", context=trace.set_span_in_context(
                    trace.INVALID_SPAN), kind=SpanKind.INTERNAL,
                start_time=_ns(run.started_at or self.started),
                attributes=t.attrs({"joelclaw.function.id": self.function_id,
                                    "joelclaw.event.name": (run.event or {}).get("name"),
                                    "joelclaw.event.id": (run.event or {}).get("id"),
                                    "joelclaw.run.status": status,
                                    "joelclaw.run.executions": run.executions + 1,
                                    "joelclaw.error": error.get("message")}, run.id))
        finally:
            t.ids.fix(None, None)
        if status == "failed":
            span.set_status(Status(StatusCode.ERROR, t.clean(error.get("message", ""))))
        span.end(end_time=_ns(fields.get("ended_at")))
