"""What the views show for a step whose record alone cannot say it (joelclaw.insight.trace)."""

from __future__ import annotations

from joelclaw.bus.records import Done, Failed, attempts_of
from joelclaw.insight.trace import settle, tries

ENDED = {"status": "cancelled", "ended_at": 200.0}


def test_a_step_still_open_in_an_ended_run_is_not_shown_going_on() -> None:
    nap = settle({"key": "nap", "type": "sleep", "status": "sleeping", "until": 9e9,
                  "started_at": 100.0}, None, ENDED)
    assert nap["status"] == "cancelled" and nap["ended_at"] == 200.0
    failed_run = {"status": "failed", "ended_at": 300.0}
    retry = settle({"key": "r", "type": "run", "status": "retrying", "next_attempt_at": 400.0,
                    "attempts": 2}, None, failed_run)
    assert retry["status"] == "failed" and "next_attempt_at" not in retry
    running = settle({"key": "x", "type": "run", "status": "running"}, None, failed_run)
    assert running["status"] == "unknown"  # the run ended under it: nobody knows
    live = settle({"key": "nap", "type": "sleep", "status": "sleeping"}, None,
                  {"status": "sleeping", "ended_at": None})
    assert live["status"] == "sleeping"


def test_a_result_stored_from_outside_settles_a_step_not_replayed_yet() -> None:
    event = {"id": "evt-1", "name": "x/order.approved", "ts": 1, "data": {}}
    wait = settle({"key": "approval", "type": "wait", "status": "waiting"},
                  Done(event, at=150.0), {"status": "waiting", "ended_at": None})
    assert wait["status"] == "completed" and wait["ended_at"] == 150.0
    assert wait["matched"] == {"id": "evt-1", "name": "x/order.approved", "ts": 1}
    invoke = settle({"key": "call", "type": "invoke", "status": "waiting"},
                    Failed("InvokeTimeout", "t-child timed out", at=160.0),
                    {"status": "waiting", "ended_at": None})
    assert invoke["status"] == "failed" and invoke["error"]["name"] == "InvokeTimeout"


def test_tries_say_unknown_rather_than_zero() -> None:
    done_task = {"type": "task", "status": "completed", "task": {"deliveries": 0}}
    assert tries(done_task) is None  # ran on a worker without joelclaw's hooks
    assert tries({"type": "task", "status": "waiting", "task": {"deliveries": 0}}) == 0
    assert tries({"type": "task", "status": "completed", "task": {"deliveries": 3}}) == 3
    assert tries({"type": "run", "status": "completed", "attempts": 1,
                  "reused_from": "run-1"}) == 0


def test_attempts_list_earlier_failures_then_the_next_one_scheduled() -> None:
    step = {"key": "s", "type": "run", "status": "retrying", "attempts": 2,
            "attempt_started_at": 10.0, "ended_at": 11.0, "next_attempt_at": 15.0,
            "error": {"name": "E", "message": "m", "stack": "x" * 5000},
            "history": [{"attempt": 1, "status": "failed", "started_at": 1.0, "ended_at": 2.0},
                        {"attempt": 2, "status": "failed", "started_at": 10.0,
                         "ended_at": 11.0}]}
    listed = attempts_of(step)
    assert [(a["attempt"], a["status"]) for a in listed] == [
        (1, "failed"), (2, "failed"), (3, "scheduled")]
    deferred = {"key": "s", "type": "run", "status": "retrying", "attempts": 0,
                "deferred": "budget", "next_attempt_at": 5.0}
    assert [(a["attempt"], a["status"]) for a in attempts_of(deferred)] == [(1, "deferred")]
