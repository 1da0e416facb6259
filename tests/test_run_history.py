"""What a run's trace says is what happened, on a real broker and real workers: a matched wait is
completed with its event, a cancelled sleep is not sleeping, a failed step promises no next
attempt, every attempt of a step (and every execution of a run) is kept with its error, times
and worker, and a `step.task` step shows its Celery task."""

from __future__ import annotations

import pytest

from joelclaw.bus.control import cancel_run
from joelclaw.bus.execution import base_id, task_id
from joelclaw.bus.flow import waits
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.insight.trace import run_trace
from joelclaw.insight.waterfall import waterfall
from joelclaw.runtime import Runtime
from tests.conftest import TEST_MODULES, make_settings
from tests.support import WorkerProcess, ready_together, wait_for
from tests.test_bus_steps import finished, start

pytestmark = pytest.mark.timeout(120)
FLOWER = "http://127.0.0.1:5599"


@pytest.fixture
def settings(tmp_path, redis_url) -> Settings:
    return make_settings(tmp_path / "home", redis_url, flower_url=FLOWER,
                         function_modules=[*TEST_MODULES, "tests.canvas_functions"])


@pytest.fixture
def workers(worker_factory) -> dict[str, WorkerProcess]:
    fn, plain = ready_together(worker_factory(queues="joelclaw", wait=False),
                               worker_factory(queues="plain", wait=False))
    return {"fn": fn, "plain": plain}


def step_of(trace: dict, key: str) -> dict:
    return next(s for s in trace["steps"] if s["key"] == key)


def test_a_matched_wait_is_completed_with_the_event_that_matched(runtime: Runtime, workers):
    run_id = start(runtime, "test/wait", key="o-77", timeout=3600)
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 20, message="waiting")
    [reply] = runtime.send(Event(name="test/reply", data={"key": "o-77"}))
    run = finished(runtime, run_id)
    assert run.status == "completed"

    stored = runtime.runs.step(run_id, "reply")  # the record itself, not only the view
    assert stored is not None and stored.status == "completed"
    assert stored.attempts == 1
    assert stored.matched["id"] == reply.id and stored.timed_out is False
    assert stored.started_at <= stored.ended_at <= run.ended_at
    trace = run_trace(runtime, run_id)
    rows = {r["key"]: r for r in waterfall(trace)["rows"]}
    assert rows["reply"]["deadline"] is None  # the hour-long deadline is not drawn
    assert waterfall(trace)["end"] <= run.ended_at + 1


def test_a_wait_that_timed_out_says_so(runtime: Runtime, workers):
    run = finished(runtime, start(runtime, "test/wait", key="never", timeout=1))
    step = runtime.runs.step(run.id, "reply")
    assert step is not None and step.status == "completed" and step.timed_out is True
    assert step.matched is None


def test_an_invoke_is_completed_when_the_invoked_run_answers(runtime: Runtime, workers):
    run = finished(runtime, start(runtime, "test/invoke", n=4))
    assert run.output == {"child": {"doubled": 8}}
    step = runtime.runs.step(run.id, "call-child")
    assert step is not None and step.status == "completed" and step.ended_at <= run.ended_at


def test_a_cancelled_run_keeps_no_step_sleeping(runtime: Runtime, workers):
    run_id = start(runtime, "test/sleep", seconds=7200)
    wait_for(lambda: runtime.runs.status(run_id) == "sleeping", 20, message="sleeping")
    cancel_run(runtime, run_id, "changed my mind")
    trace = run_trace(runtime, run_id)
    assert trace["status"] == "cancelled"
    nap = runtime.runs.step(run_id, "nap")
    assert nap is not None and nap.status == "cancelled" and nap.ended_at == pytest.approx(
        trace["ended_at"], abs=1)
    chart = waterfall(trace)
    assert {r["key"]: r for r in chart["rows"]}["nap"]["deadline"] is None
    assert chart["end"] < trace["ended_at"] + 60  # not stretched to the two-hour deadline


def test_a_cancelled_waiting_run_stops_listening(runtime: Runtime, workers):
    # Given a run waiting for an event, listed among the runs waiting on someone
    run_id = start(runtime, "test/wait", key="k-cancel", timeout=3600)
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 20, message="waiting")
    assert run_id in {w["run"] for w in waits.waiting(runtime)}
    # When it is cancelled
    cancel_run(runtime, run_id, "not needed")
    # Then its waiting step ended with it, no view lists it as waiting, and the event it
    # waited for resumes nothing
    reply = runtime.runs.step(run_id, "reply")
    assert reply is not None and reply.status == "cancelled"
    assert run_id not in {w["run"] for w in waits.waiting(runtime)}
    sent = runtime.send(Event(name="test/reply", data={"key": "k-cancel"}))
    assert sent[0].resumed == []
    assert runtime.runs.status(run_id) == "cancelled"


def test_a_failed_step_keeps_each_attempt_and_promises_no_next_one(runtime: Runtime, workers):
    run = finished(runtime, start(runtime, "test/flaky", failures=10))
    assert run.status == "failed"
    flaky = runtime.runs.step(run.id, "flaky")
    assert flaky is not None and flaky.status == "failed" and "next_attempt_at" not in flaky
    assert flaky.attempts == 4
    earlier = flaky.history
    assert [a["attempt"] for a in earlier] == [1, 2, 3]
    for attempt in earlier:
        assert attempt["status"] == "failed"
        assert attempt["error"]["name"] == "RuntimeError"
        assert attempt["error"]["message"] == "not yet"
        assert "not yet" in attempt["error"]["stack"]
        assert attempt["started_at"] <= attempt["ended_at"]
        assert attempt["worker"].startswith("w0@")
    trace = run_trace(runtime, run.id)
    listed = step_of(trace, "flaky")["attempt_list"]
    assert [(a["attempt"], a["status"]) for a in listed] == [
        (1, "failed"), (2, "failed"), (3, "failed"), (4, "failed")]
    assert listed[0]["ended_at"] <= listed[1]["started_at"]  # back-off between attempts
    assert trace["step_attempts"] == 5  # "before" once, "flaky" four times
    assert trace["retried_steps"] == ["flaky"]
    # Every execution of the run: the four attempts of "flaky" each ran in one.
    assert [e["n"] for e in trace["history"]] == [1, 2, 3, 4]
    assert [e["outcome"] for e in trace["history"]] == ["queued"] * 3 + ["failed"]
    assert trace["history"][-1]["error"]["name"] == "StepError"
    assert all(e["worker"].startswith("w0@") for e in trace["history"])


def test_a_step_that_succeeds_on_its_third_attempt_lists_three(runtime: Runtime, workers):
    run = finished(runtime, start(runtime, "test/flaky", failures=2))
    assert run.status == "completed"
    flaky = runtime.runs.step(run.id, "flaky")
    assert flaky is not None and flaky.status == "completed" and flaky.error is None
    assert "next_attempt_at" not in flaky and "ended_at" in flaky
    listed = step_of(run_trace(runtime, run.id), "flaky")["attempt_list"]
    assert [(a["attempt"], a["status"]) for a in listed] == [
        (1, "failed"), (2, "failed"), (3, "completed")]
    assert listed[2].get("error") is None
    before = runtime.runs.step(run.id, "before")
    assert "history" not in before  # a first-time success records no history


def test_every_finished_step_counts_its_tries(runtime: Runtime, workers):
    run = finished(runtime, start(runtime, "test/parallel"))
    trace = run_trace(runtime, run.id)
    assert {s["key"]: s["tries"] for s in trace["steps"]} == {
        "fan": 1, "fan[0]": 1, "fan[1]": 1, "fan[2]": 1, "after": 1}
    sleep = finished(runtime, start(runtime, "test/sleep", seconds=0.2))
    assert step_of(run_trace(runtime, sleep.id), "nap")["tries"] == 1


def test_a_task_step_shows_its_celery_task_with_a_flower_link(runtime: Runtime, workers):
    run = finished(runtime, start(runtime, "canvas/task", mode="flaky", failures=1))
    assert run.status == "completed", run.error
    step = step_of(run_trace(runtime, run.id), "flaky")
    tid = task_id(base_id(run.id, "flaky"), "r")
    task = step["task"]
    assert task["name"] == "canvas.flaky" and task["id"] == tid
    assert task["worker"].startswith("w1@")  # the plain worker ran it
    assert task["deliveries"] == 2 and task["retries"] == 1
    assert step["tries"] == 2
    assert task["flower"] == f"{FLOWER}/task/{tid}"
    from click import unstyle

    from joelclaw.cli.render import render_trace

    text = unstyle(render_trace(run_trace(runtime, run.id)))  # what `joelclaw run` prints
    line = next(x for x in text.splitlines() if tid in x)
    assert "canvas.flaky" in line and "worker w1@" in line and "deliveries 2 (retries 1)" in line
    assert f"flower {FLOWER}/task/{tid}" in line


def test_a_waiting_task_step_shows_its_task_live(runtime: Runtime, workers):
    run_id = start(runtime, "canvas/task", mode="slow", value=5)
    tid = task_id(base_id(run_id, "slow"), "r")
    # tests.canvas_tasks.slow holds until its key is set: the step is waiting meanwhile.
    wait_for(lambda: (runtime.runs.step(run_id, "slow") or {}).get("status") == "waiting"
             and step_of(run_trace(runtime, run_id), "slow")["task"].get("deliveries") == 1,
             30, message="the task to start")
    step = step_of(run_trace(runtime, run_id), "slow")
    assert step["task"]["id"] == tid and step["task"]["worker"].startswith("w1@")
    runtime.redis.set(f"jc:test:release:{run_id}", "1")
    assert finished(runtime, run_id).status == "completed"


def test_the_api_serves_the_same_settled_trace(runtime: Runtime, settings: Settings, workers):
    from tests.webhooks.webhook_support import bearer, configured
    from webhooks import create_app

    run = finished(runtime, start(runtime, "test/flaky", failures=1))
    client = create_app(configured(settings)).test_client()
    trace = client.get(f"/api/runs/{run.id}", headers=bearer()).get_json()["run"]
    flaky = step_of(trace, "flaky")
    assert [(a["attempt"], a["status"]) for a in flaky["attempt_list"]] == [
        (1, "failed"), (2, "completed")]
    assert flaky["attempt_list"][0]["error"]["message"] == "not yet"
    assert trace["executions"] == 2 and trace["history"][0]["outcome"] == "queued"
    assert trace["step_attempts"] == 4 and trace["flower_url"] == FLOWER  # before, 2, after
