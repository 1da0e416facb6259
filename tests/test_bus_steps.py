"""Durable steps on a real broker and a real worker: memoization, sleeps, waits, invoke,
parallel, send_event and the retry rules."""

from __future__ import annotations

import pytest

from joelclaw import keys
from joelclaw.bus.records import TERMINAL, Run
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.runtime import Runtime
from tests.support import open_gate, wait_for, wait_settled

pytestmark = pytest.mark.timeout(90)


def start(rt: Runtime, name: str, **data: object) -> str:
    return rt.send(Event(name=name, data=data))[0].runs[0]


def finished(rt: Runtime, run_id: str, timeout: float = 30) -> Run:
    return wait_for(lambda: (r := rt.runs.get(run_id)) and r.status in TERMINAL and r,
                    timeout, message=f"run {run_id} to finish")


def counts(rt: Runtime, run_id: str) -> dict[str, int]:
    prefix = f"jc:test:count:{run_id}:"
    return {k.decode()[len(prefix):]: int(rt.redis.get(k))
            for k in rt.redis.scan_iter(match=prefix + "*")}


def test_steps_run_once_and_are_traced(runtime, worker):
    run = finished(runtime, start(runtime, "test/steps"))
    assert run.status == "completed"
    assert counts(runtime, run.id) == {"one": 1, "two": 1, "three": 1}
    steps = runtime.runs.steps(run.id)
    assert [s.key for s in steps] == ["one", "two", "three"]
    assert all(s.status == "completed" and s.attempts == 1 for s in steps)
    assert all("queue_delay_ms" in s and "execution_ms" in s for s in steps)


def test_step_failing_twice_then_succeeding_runs_earlier_steps_once(runtime, worker):
    run = finished(runtime, start(runtime, "test/flaky", failures=2))
    assert run.status == "completed" and run.output == "ok"
    assert counts(runtime, run.id) == {"before": 1, "flaky": 3, "after": 1}
    flaky = runtime.runs.step(run.id, "flaky")
    assert flaky is not None and flaky.attempts == 3 and flaky.status == "completed"


def test_step_failing_past_its_retries_fails_the_run_and_emits_failed(runtime, worker):
    run = finished(runtime, start(runtime, "test/flaky", failures=10))
    assert run.status == "failed"
    assert counts(runtime, run.id)["flaky"] == 4  # 1 attempt + 3 retries
    assert "after" not in counts(runtime, run.id)
    failed = wait_for(lambda: list_events(runtime.redis, name="joelclaw/function.failed"), 10,
                      message="the function.failed event")
    assert [e["event"]["data"]["run_id"] for e in failed] == [run.id]


def test_nonretriable_fails_at_once(runtime, worker):
    run = finished(runtime, start(runtime, "test/nonretriable"))
    assert run.status == "failed"
    assert counts(runtime, run.id) == {"boom": 1}
    assert "NonRetriable" in run.error["message"]


def test_retry_after_sets_the_next_attempt_and_on_failure_runs(runtime, worker):
    run = finished(runtime, start(runtime, "test/retry-after"))
    assert run.status == "failed"
    times = [float(t) for t in runtime.redis.lrange(f"jc:test:times:{run.id}", 0, -1)]
    assert len(times) == 2 and times[1] - times[0] >= 1.5
    message = wait_for(lambda: runtime.redis.get(f"jc:test:failure:{run.id}"), 20,
                       message="on_failure handler")
    assert b"still broken" in message


def test_sleep_holds_no_worker_and_resumes(runtime, worker_factory):
    worker_factory(concurrency=1)
    sleeper = start(runtime, "test/sleep", seconds=3)
    wait_for(lambda: runtime.runs.status(sleeper) == "sleeping", 10, message="sleeping")
    # With one worker slot, another run completes while the first one sleeps.
    other = finished(runtime, start(runtime, "test/steps"), timeout=5)
    assert other.status == "completed"
    assert runtime.runs.status(sleeper) == "sleeping"
    run = finished(runtime, sleeper)
    assert run.status == "completed"
    assert counts(runtime, sleeper) == {"before": 1, "after": 1}


def test_sleep_longer_than_visibility_timeout_continues_exactly_once(
    runtime, settings, worker_factory
):
    short = settings.with_overrides(visibility_timeout=2)
    worker_factory(settings_override=short)
    run_id = start(runtime, "test/sleep", seconds=5)
    run = finished(runtime, run_id, timeout=30)
    # a message left unacknowledged would be redelivered (a second "after"): none is left
    wait_settled(runtime)
    assert run.status == "completed"
    assert counts(runtime, run_id) == {"before": 1, "after": 1}


def test_wait_for_event_returns_the_matching_event(runtime, worker):
    run_id = start(runtime, "test/wait", key="k1", timeout=20)
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 10, message="waiting")
    runtime.send(Event(name="test/reply", data={"key": "other"}))
    runtime.send(Event(name="test/reply", data={"key": "k1", "answer": 42}))
    run = finished(runtime, run_id)
    assert run.output == {"got": {"key": "k1", "answer": 42}}


def test_wait_for_event_times_out_with_none(runtime, worker):
    run = finished(runtime, start(runtime, "test/wait", key="never", timeout=1))
    assert run.status == "completed" and run.output == {"got": None}


def test_event_sent_before_the_wait_registers_is_still_matched(runtime, worker):
    # The run is held in its first step; the reply arrives before the wait exists.
    run_id = start(runtime, "test/wait", key="early", timeout=30, hold="early")
    wait_for(lambda: counts(runtime, run_id).get("before") == 1, 30, message="first step")
    runtime.send(Event(name="test/reply", data={"key": "early"}))
    open_gate(runtime.redis, "early")  # the wait registers only after the reply arrived
    run = finished(runtime, run_id)
    assert run.output == {"got": {"key": "early"}}


def test_wait_with_an_if_expression(runtime, worker):
    run_id = start(runtime, "test/wait-if", min=5)
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 10, message="waiting")
    runtime.send(Event(name="test/reply", data={"n": 3}))
    runtime.send(Event(name="test/reply", data={"n": 7}))
    assert finished(runtime, run_id).output == {"got": {"n": 7}}


def test_send_event_is_memoized_across_retries(runtime, worker):
    run = finished(runtime, start(runtime, "test/send", fail_after_send=True))
    assert run.status == "completed"
    assert counts(runtime, run.id)["send-attempt"] == 2
    emitted = list_events(runtime.redis, name="test/emitted")
    assert len(emitted) == 2
    assert sorted(e["event"]["id"] for e in emitted) == sorted(run.output)


def test_invoke_returns_the_child_result(runtime, worker):
    run = finished(runtime, start(runtime, "test/invoke", n=21))
    assert run.output == {"child": {"doubled": 42}}
    child = runtime.runs.list(function="t-child")[0]
    assert child.parent == {"run": run.id, "step": "call-child"}


def test_invoke_child_failure_fails_the_step(runtime, worker):
    run = finished(runtime, start(runtime, "test/invoke", n=1, fail=True))
    assert run.status == "failed"
    assert "child refuses" in run.error["message"]


def test_parallel_fans_out_and_in(runtime, worker):
    run = finished(runtime, start(runtime, "test/parallel"))
    assert run.output == [0, 10, 20]
    assert counts(runtime, run.id) == {"member-0": 1, "member-1": 1, "member-2": 1, "after": 1}


def test_parallel_member_failure_fails_the_step_with_its_error(runtime, worker):
    run = finished(runtime, start(runtime, "test/parallel", fail_index=1))
    assert run.status == "failed"
    assert "member 1 broke" in run.error["message"]
    assert "after" not in counts(runtime, run.id)


def test_duplicate_event_id_triggers_nothing(runtime, worker):
    first = runtime.send(Event(name="test/steps", id="same-id"))[0]
    second = runtime.send(Event(name="test/steps", id="same-id"))[0]
    assert first.status == "dispatched" and len(first.runs) == 1
    assert second.status == "deduplicated" and second.runs == []
    finished(runtime, first.runs[0])
    assert len(runtime.runs.list(function="t-steps")) == 1


def test_globs_and_filters_select_functions(runtime):
    assert [f.id for f in runtime.registry.triggered_by(Event(name="globtest/anything"))] == [
        "t-glob"]
    small = Event(name="test/filtered", data={"amount": 5})
    big = Event(name="test/filtered", data={"amount": 500})
    assert runtime.registry.triggered_by(small) == []
    assert [f.id for f in runtime.registry.triggered_by(big)] == ["t-filtered"]


def test_no_message_is_left_behind(runtime, worker):
    run = finished(runtime, start(runtime, "test/sleep", seconds=1))
    assert run.status == "completed"
    wait_for(lambda: runtime.redis.zcard(keys.WAKEUPS) == 0, 10, message="no pending wake-ups")
    assert runtime.redis.zcard(keys.LEASES) == 0
