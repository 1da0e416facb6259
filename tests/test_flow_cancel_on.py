"""cancel_on: a matching event cancels a sleeping (or queued) run; the step after the sleep never
runs; joelclaw/function.cancelled is emitted; a non-matching event does nothing."""

from __future__ import annotations

import pytest

from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from tests.flow_helpers import finished, start, status_is
from tests.support import gate_entered, open_gate, wait_for
from tests.test_bus_steps import counts

pytestmark = pytest.mark.timeout(120)


def test_cancel_during_a_sleep(runtime, worker):
    run_id = start(runtime, "test/cancel-on", k="a", nap=3)
    other = start(runtime, "test/cancel-on", k="b", nap=3)
    status_is(runtime, run_id, "sleeping")
    runtime.send(Event(name="test/cancel-it", data={"k": "a"}))
    run = status_is(runtime, run_id, "cancelled", 5)
    assert "cancel_on" in run.error["message"]
    assert finished(runtime, other).status == "completed"  # k=b did not match
    assert counts(runtime, other) == {"before": 1, "after": 1}
    assert counts(runtime, run_id) == {"before": 1}  # the post-sleep step never ran
    cancelled = wait_for(lambda: list_events(runtime.redis, name="joelclaw/function.cancelled"), 10,
                         message="function.cancelled")
    assert [e["event"]["data"]["run_id"] for e in cancelled] == [run_id]


def test_cancel_a_queued_run_before_it_starts(runtime):
    run_id = start(runtime, "test/cancel-on", k="q", nap=0)  # no worker: it stays queued
    runtime.send(Event(name="test/cancel-it", data={"k": "q"}))
    assert status_is(runtime, run_id, "cancelled", 5)
    assert counts(runtime, run_id) == {}


def test_cancel_with_an_if_expression(runtime, worker):
    run_id = start(runtime, "test/cancel-on-if", min=5)
    status_is(runtime, run_id, "sleeping")
    runtime.send(Event(name="test/cancel-if", data={"n": 3}))  # 3 > 5 is false: ignored
    runtime.send(Event(name="test/cancel-if", data={"n": 7}))
    assert status_is(runtime, run_id, "cancelled", 5)
    assert counts(runtime, run_id) == {}


def test_listener_is_dropped_when_the_run_ends(runtime, worker):
    run_id = start(runtime, "test/cancel-on", k="done", nap=0)
    assert finished(runtime, run_id).status == "completed"
    assert not runtime.redis.hexists("jc:waits:test/cancel-it", f"{run_id}|cancel:0")


def test_a_running_step_finishes_and_nothing_after_it_runs(runtime, worker):
    run_id = start(runtime, "test/cancel-step", k="r", hold="r")
    wait_for(lambda: gate_entered(runtime.redis, "r") == 1, 30, message="long step held")
    runtime.send(Event(name="test/cancel-step-now", data={"k": "r"}))
    wait_for(lambda: runtime.runs.cancel_reason(run_id), 30, message="the cancel requested")
    open_gate(runtime.redis, "r")  # the step in flight finishes after the cancel
    run = finished(runtime, run_id, 15)
    assert run.status == "cancelled"
    assert runtime.runs.step(run_id, "long").status == "completed"  # it finished
    assert runtime.runs.step(run_id, "reply") is None  # nothing after it started
    assert counts(runtime, run_id) == {"long": 1}


def test_cancel_a_waiting_run(runtime, worker):
    run_id = start(runtime, "test/cancel-step", k="w", hold=0)
    status_is(runtime, run_id, "waiting")
    runtime.send(Event(name="test/cancel-step-now", data={"k": "w"}))
    assert status_is(runtime, run_id, "cancelled", 5)
    assert counts(runtime, run_id) == {"long": 1}


def test_a_cancel_event_arriving_before_the_listener_registers_still_cancels(runtime):
    # Given a run whose listener is not registered yet (as in the instant between the run's
    # creation and its registration), and a matching cancel event already received
    from joelclaw import keys
    from joelclaw.bus.flow import register_cancel_on

    received = runtime.redis.time()
    run_id = start(runtime, "test/cancel-on", k="early", nap=0)  # no worker: stays queued
    runtime.redis.delete(keys.waits("test/cancel-it"))
    runtime.send(Event(name="test/cancel-it", data={"k": "early"}))
    assert runtime.runs.status(run_id) == "queued"
    # When the listener registers, its look-back finds the event: the run is cancelled
    run = runtime.runs.get(run_id)
    fn = runtime.function("t-cancel-on")
    register_cancel_on(runtime, [(fn, run_id)], run.event, received[0] + received[1] / 1e6 - 1)
    assert status_is(runtime, run_id, "cancelled", 5)
