"""The tracer in-process, with the SDK's own in-memory exporter: a sampling ratio keeps all of
a run's spans or none (decided by the run's trace id), and a secret in a step's error or output
never reaches a span."""

from __future__ import annotations

from pathlib import Path

from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from joelclaw.bus.records import Run, StepTrace
from joelclaw.config import Settings
from joelclaw.telemetry.tracing import RunTracer, trace_id_of

SECRET = "sk-test-5f3a9c1e7b2d4f6a8c0e1b3d5f7a9c1e"


def tracer(tmp_path: Path, **values: object) -> tuple[RunTracer, InMemorySpanExporter]:
    settings = Settings(_env_file=None, home=tmp_path, llm_api_key=SECRET,  # type: ignore[call-arg]
                        **values)
    exporter = InMemorySpanExporter()
    return RunTracer(settings, SimpleSpanProcessor(exporter)), exporter


def one_run(t: RunTracer, run_id: str, error: str | None = None) -> None:
    run = Run(id=run_id, function="f", event={"name": "x/y", "id": "e"})
    spans = t.execution("f", run, None, 100.0)
    if spans is None:
        return
    record = StepTrace(key="s", type="run", attempts=1, attempt_started_at=100.0,
                       ended_at=100.5, status="failed" if error else "completed",
                       output=f"sent with {SECRET}")
    if error:
        record.error = {"name": "ValueError", "message": error, "stack": f"... {error}"}
    spans.step(record)
    spans.end("failed" if error else "completed", {"ended_at": 101.0, "execution_ms": 1.0,
                                                   "error": record.error})


def test_a_sampling_ratio_keeps_whole_runs(tmp_path: Path) -> None:
    t, exporter = tracer(tmp_path, otel_sample_ratio=0.5)
    ids = [f"run-{i}" for i in range(200)]
    for run_id in ids:
        one_run(t, run_id)
    traced = {s.context.trace_id for s in exporter.get_finished_spans()}
    kept = [r for r in ids if trace_id_of(r) in traced]
    assert 60 < len(kept) < 140, "about half the runs are traced"
    assert all(t.sampled(r) for r in kept) and not any(t.sampled(r) for r in ids
                                                       if r not in kept)
    per_trace = {}
    for span in exporter.get_finished_spans():
        per_trace.setdefault(span.context.trace_id, set()).add(span.name)
    assert all(names == {"run f", "execute f", "step s"} for names in per_trace.values())
    none, silent = tracer(tmp_path, otel_sample_ratio=0.0)
    one_run(none, "run-x")
    assert silent.get_finished_spans() == ()


def test_no_configured_or_secret_shaped_value_reaches_a_span(tmp_path: Path) -> None:
    t, exporter = tracer(tmp_path)
    one_run(t, "run-secret", error=f"login refused for key {SECRET} and Bearer abc.def.ghi")
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    dumped = repr([(dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events],
                    s.status.description) for s in spans])
    assert SECRET not in dumped and "abc.def.ghi" not in dumped
    assert "login refused for key" in dumped and "sent with" in dumped
