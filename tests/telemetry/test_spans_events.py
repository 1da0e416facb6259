"""Runs become OpenTelemetry spans (exported over OTLP/HTTP by a real worker to a fake
collector) and failures become telemetry events in Typesense that `joelclaw otel` finds; a
secret in an error reaches neither."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.telemetry.tracing import run_span_id_of, trace_id_of
from tests.fakes.otlp import FakeCollector
from tests.flow_helpers import finished
from tests.support import open_gate, wait_for
from tests.telemetry.conftest import run_cli
from tests.telemetry.telfunctions import LEAKED


def start_run(rt: Runtime, name: str, data: dict | None = None) -> str:
    return rt.send(Event(name=name, data=data or {}))[0].runs[0]


@pytest.mark.timeout(90)
def test_a_run_with_two_steps_is_one_trace_of_run_execution_and_step_spans(
    start: Callable[..., Runtime], collector: FakeCollector,
) -> None:
    rt = start(otel_endpoint=collector.url, otel_service_name="joelclaw-test")
    run_id = start_run(rt, "tel/two-steps")
    assert finished(rt, run_id).status == "completed"
    trace_id = f"{trace_id_of(run_id):032x}"
    spans = wait_for(lambda: (s := collector.trace(trace_id)) and len(s) >= 4 and s, 20,
                     message="4 spans of the run")
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"run tel-two-steps", "execute tel-two-steps", "step first",
                            "step second"}
    run, execution = by_name["run tel-two-steps"], by_name["execute tel-two-steps"]
    assert run.span_id == f"{run_span_id_of(run_id):016x}" and run.parent_id == ""
    assert execution.parent_id == run.span_id
    assert by_name["step first"].parent_id == execution.span_id
    assert by_name["step second"].parent_id == execution.span_id
    assert run.attributes["joelclaw.run.status"] == "completed"
    assert run.attributes["joelclaw.event.name"] == "tel/two-steps"
    assert by_name["step second"].attributes["joelclaw.step.status"] == "completed"
    assert {s.service for s in spans} == {"joelclaw-test"}


@pytest.mark.timeout(90)
def test_a_run_cancelled_while_a_step_runs_ends_its_trace_as_cancelled(
    start: Callable[..., Runtime], collector: FakeCollector,
) -> None:
    from joelclaw.bus.control import cancel_run

    rt = start(otel_endpoint=collector.url)
    run_id = start_run(rt, "tel/cancel-me")
    wait_for(lambda: any(s.key == "slow" and s.status == "running"
                         for s in rt.runs.steps(run_id)), 20, message="the slow step running")
    cancel_run(rt, run_id)
    open_gate(rt.redis, "tel-slow")  # the step ends after the cancel, however slow the machine
    assert finished(rt, run_id).status == "cancelled"
    trace_id = f"{trace_id_of(run_id):032x}"
    spans = wait_for(lambda: (s := collector.trace(trace_id)) and len(s) >= 3 and s, 20,
                     message="the cancelled run's spans")
    by_name = {s.name: s for s in spans}
    assert set(by_name) == {"run tel-cancel-me", "execute tel-cancel-me", "step slow"}
    assert by_name["run tel-cancel-me"].attributes["joelclaw.run.status"] == "cancelled"


@pytest.mark.timeout(120)
def test_a_failure_is_an_error_span_and_a_searchable_event_without_its_secret(
    start: Callable[..., Runtime], collector: FakeCollector,
) -> None:
    rt = start(otel_endpoint=collector.url)
    run_id = start_run(rt, "tel/secret-fail")
    assert finished(rt, run_id).status == "failed"
    trace_id = f"{trace_id_of(run_id):032x}"
    spans = wait_for(lambda: (s := collector.trace(trace_id)) and len(s) >= 3 and s, 20,
                     message="the failed run's spans")
    step = next(s for s in spans if s.name == "step leaky")
    assert step.status_code == 2  # STATUS_CODE_ERROR
    assert "[redacted]" in step.status_message
    exception = next(e for e in step.events if e["name"] == "exception")
    assert "refused token [redacted]" in exception["exception.message"]
    dumped = repr([(s.attributes, s.events, s.status_message) for s in spans])
    assert LEAKED not in dumped and "refused token" in dumped

    # The events are in Typesense (the worker's flusher) and `joelclaw otel` finds them.
    def searched() -> dict | None:
        code, env = run_cli(rt.settings, "otel", "search", "refused", "--failed")
        assert code == 0, env
        return env["result"] if env["result"]["found"] >= 2 else None

    result = wait_for(searched, 20, interval=0.3, message="the failure events")
    actions = sorted(e["action"] for e in result["events"])
    assert actions == ["run.failed", "step.failed"]
    assert all(e["run_id"] == run_id and e["component"] == "tel-secret-fail"
               for e in result["events"])
    assert all("[redacted]" in e["error"] for e in result["events"])
    code, listed = run_cli(rt.settings, "otel", "list", "--level", "error")
    assert code == 0 and listed["result"]["found"] == 2
    assert LEAKED not in repr(listed) and LEAKED not in repr(result)
    code, found = run_cli(rt.settings, "search", "refused", "-c", "otel_events")
    assert code == 0 and found["result"]["collections"]["otel_events"]["found"] == 2


@pytest.mark.timeout(60)
def test_without_an_endpoint_no_span_is_built_but_failures_are_still_recorded(
    start: Callable[..., Runtime], collector: FakeCollector,
) -> None:
    rt = start()  # no otel_endpoint
    run_id = start_run(rt, "tel/secret-fail")
    assert finished(rt, run_id).status == "failed"

    def events() -> dict | None:
        code, env = run_cli(rt.settings, "otel", "list", "--failed")
        return env["result"] if code == 0 and env["result"]["found"] >= 2 else None

    assert wait_for(events, 20, interval=0.3, message="failure events")["found"] == 2
    assert collector.requests == 0


def test_otel_commands_say_clearly_when_typesense_is_not_configured(
    tmp_path, redis_url: str,
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "home", redis_url)
    for args in (("otel", "list"), ("otel", "search", "x"), ("search", "x")):
        code, env = run_cli(settings, *args)
        assert code == 1 and env["error"]["code"] == "TYPESENSE_UNAVAILABLE", env
        assert "JOELCLAW_TYPESENSE_URL" in env["fix"]
    code, env = run_cli(settings, "search", "x", "-c", "nope")
    assert code == 2 and env["error"]["code"] == "INVALID_COLLECTION"
    code, env = run_cli(settings, "otel", "stats")  # spend lives in Redis: still answers
    assert code == 0 and env["result"]["events"] is None


def test_events_wait_in_redis_while_typesense_is_down_and_are_stored_once_it_answers(
    tmp_path, redis_url: str, typesense,
) -> None:
    import pytest as _pytest

    from joelclaw.embedded import free_port
    from joelclaw.integrations.typesense import SearchClient, SearchUnavailable
    from joelclaw.telemetry import events as tel
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "home", redis_url)
    rt = Runtime(settings)
    for i in range(3):
        tel.emit(rt.redis, tel.TelemetryEvent(component="svc", action="step.failed",
                                              success=False, error=f"boom {i}"), settings)
    down = SearchClient(f"http://127.0.0.1:{free_port()}", "k", timeout=0.5, retries=0)
    with _pytest.raises(SearchUnavailable):
        tel.flush(rt.redis, down)
    assert tel.pending(rt.redis) == 3, "nothing is lost while Typesense is down"
    up = SearchClient(typesense.url, typesense.api_key or "")
    assert tel.flush(rt.redis, up) == 3 and tel.pending(rt.redis) == 0
    assert up.count("otel_events") == 3
    assert tel.flush(rt.redis, up) == 0


def test_a_batch_taken_by_a_flusher_is_neither_lost_nor_hidden_from_a_reader(
    tmp_path, redis_url: str, typesense,
) -> None:
    """A flusher killed mid-import leaves its batch for the next; a reader (`query.flushed`)
    waits for a flusher still importing instead of finding an empty queue and moving on."""
    import threading

    from joelclaw import keys
    from joelclaw.coordination.locks import Lock
    from joelclaw.integrations.typesense import SearchClient
    from joelclaw.telemetry import events as tel
    from joelclaw.telemetry import query
    from tests.conftest import make_settings

    settings = make_settings(tmp_path / "home", redis_url)
    rt = Runtime(settings)
    search = SearchClient(typesense.url, typesense.api_key or "")

    def emit(tag: str, n: int) -> None:
        for i in range(n):
            tel.emit(rt.redis, tel.TelemetryEvent(component=f"svc-{tag}", action="step.failed",
                                                  success=False, error=f"{tag} {i}"), settings)

    # A flusher took a batch of 3 and died holding the lock: once its lease is over (the key
    # gone), the next flusher imports that batch before the 2 queued after it.
    emit("dead", 3)
    dead = Lock(rt.redis, keys.OTEL_FLUSH_LOCK, 60)
    assert dead.acquire()
    assert len(rt.redis.eval(tel._TAKE, 2, keys.OTEL_PENDING, keys.OTEL_FLUSHING, 500)) == 3
    emit("after", 2)
    assert tel.pending(rt.redis) == 5
    assert tel.flush(rt.redis, search) == 0, "the holder is draining: another flusher skips"
    rt.redis.delete(keys.OTEL_FLUSH_LOCK)  # its lease ran out
    assert tel.flush(rt.redis, search) == 5 and tel.pending(rt.redis) == 0
    assert query.events(search, "*", component="svc-dead", hours=1)["found"] == 3

    # A live flusher holds 2 events it took; a reader started meanwhile sees them stored.
    emit("slow", 2)
    holder = Lock(rt.redis, keys.OTEL_FLUSH_LOCK, 60)
    assert holder.acquire()
    taken = rt.redis.eval(tel._TAKE, 2, keys.OTEL_PENDING, keys.OTEL_FLUSHING, 500)
    assert len(taken) == 2 and rt.redis.llen(keys.OTEL_PENDING) == 0
    waiting = threading.Event()
    seen: list[int] = []

    def reader() -> None:
        waiting.set()
        query.flushed(rt, search)
        seen.append(query.events(search, "*", component="svc-slow", hours=1)["found"])

    thread = threading.Thread(target=reader)
    thread.start()
    waiting.wait(10)
    search.import_documents("otel_events", [json.loads(raw) for raw in taken])
    assert rt.redis.eval(tel._DONE, 2, keys.OTEL_FLUSH_LOCK, keys.OTEL_FLUSHING,
                         holder.token) == 1
    holder.release()
    thread.join(60)
    assert seen == [2]
