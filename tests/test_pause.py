"""Pausing a function: its new and woken runs queue (held `paused`, said by explain) while other
functions run; a wait is still answered and a sleep still ends, the run then waits in line;
the pause holds across workers and their restarts; resume starts the parked runs in order."""

from __future__ import annotations

import pytest

from joelclaw.bus.control import pause, pause_of, paused, resume
from joelclaw.bus.flow import explain_run
from joelclaw.errors import NotFound
from joelclaw.events.model import Event
from tests.flow_helpers import finished, start, status_is
from tests.support import ready_together, wait_for
from tests.test_cli import cli_env, invoke, ok  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(120)


def parked(runtime, run_id: str):
    return wait_for(lambda: (r := runtime.runs.get(run_id)) and r.status == "queued"
                    and (r.held or {}).get("kind") == "paused" and r, 20,
                    message=f"run {run_id} parked by the pause")


def test_new_runs_queue_while_paused_and_start_in_order_on_resume(runtime, worker_factory):
    # two workers: the pause is in Redis, not in one worker's memory
    ready_together(worker_factory(wait=False), worker_factory(wait=False))
    info = pause(runtime, "t-steps", by="owner (test)", reason="deploying")
    assert info["paused"] and info["by"] == "owner (test)" and info["parked"] == 0
    runs = [start(runtime, "test/steps") for _ in range(3)]
    for run_id in runs:
        parked(runtime, run_id)
    other = finished(runtime, start(runtime, "test/sleep", seconds=0))
    assert other.status == "completed"  # other functions are not held
    why = explain_run(runtime, runs[0])
    assert why["reason"].startswith("paused: function t-steps was paused by owner (test) at ")
    assert "(deploying)" in why["reason"] and why["paused"]["parked"] == 3
    assert paused(runtime)["t-steps"]["parked"] == 3

    released = resume(runtime, "t-steps")
    assert released["was_paused"] and released["runs"] == runs  # oldest first
    for run_id in runs:
        done = finished(runtime, run_id)
        assert done.status == "completed" and done.held is None
        assert [h["kind"] for h in done.holds] == ["paused"]
        assert done.holds[0]["released_at"] >= done.holds[0]["since"]
    assert pause_of(runtime, "t-steps") is None and paused(runtime) == {}


def test_waits_and_sleeps_keep_their_place_and_the_pause_survives_a_restart(
        runtime, worker_factory):
    first = worker_factory()
    waiting = start(runtime, "test/wait", key="k-1", timeout=60)
    sleeping = start(runtime, "test/sleep", seconds=1)
    status_is(runtime, waiting, "waiting")
    status_is(runtime, sleeping, "sleeping")
    pause(runtime, "t-wait", by="owner")
    pause(runtime, "t-sleep", by="owner")
    why = explain_run(runtime, waiting)["reason"]
    assert why.startswith("waiting in step 'reply' for event test/reply matching data.key = ")
    assert why.endswith("its function t-wait is paused, so it waits in line when it would go on")
    runtime.send(Event(name="test/reply", data={"key": "k-1", "answer": 42}))
    parked(runtime, waiting)  # the answer was taken; the run waits for resume
    parked(runtime, sleeping)  # the sleep ended; the run waits for resume
    first.stop()
    worker_factory()  # a restarted worker finds them still parked
    assert parked(runtime, waiting) and parked(runtime, sleeping)
    resume(runtime, "t-wait")
    resume(runtime, "t-sleep")
    assert finished(runtime, waiting).output == {"got": {"key": "k-1", "answer": 42}}
    assert finished(runtime, sleeping).status == "completed"


def test_pause_and_resume_from_the_cli(runtime, worker, invoke):  # noqa: F811
    paused_now = ok(invoke("pause", "t-steps", "--reason", "maintenance"), "pause")
    assert paused_now["paused"] is True and paused_now["reason"] == "maintenance"
    listed = {f["id"]: f for f in ok(invoke("functions"), "functions")}
    assert listed["t-steps"]["paused"]["by"] == "owner (cli)"
    assert listed["t-sleep"]["paused"] is None
    run_id = start(runtime, "test/steps")
    parked(runtime, run_id)
    explained = ok(invoke("explain", run_id), "explain")
    assert explained["reason"].startswith("paused: function t-steps")
    resumed = ok(invoke("resume", "t-steps"), "resume")
    assert resumed["released"] == 1 and resumed["runs"] == [run_id]
    assert finished(runtime, run_id).status == "completed"
    again = ok(invoke("resume", "t-steps"), "resume")
    assert again["was_paused"] is False and again["released"] == 0
    unknown = invoke("pause", "no-such-function")
    assert unknown.exit_code == 1 and "no function with id" in unknown.stdout


def test_pausing_an_unknown_function_is_refused(runtime):
    with pytest.raises(NotFound):
        pause(runtime, "no-such-function", by="owner")
    with pytest.raises(NotFound):
        resume(runtime, "no-such-function")
