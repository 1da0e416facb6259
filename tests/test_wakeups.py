"""Durable time's one owner (joelclaw.bus.records.wakeups) on a real Redis: what it schedules,
forgets and counts is what `joelclaw status`, the dashboard and `joelclaw schedule` report."""

from __future__ import annotations

import time

from joelclaw.bus.records import wakeups
from joelclaw.insight import schedule
from joelclaw.runtime import Runtime
from webhooks.dashboard.models import overview


def test_an_earlier_wake_up_wins_unless_asked_otherwise(runtime: Runtime) -> None:
    r = runtime.redis
    wakeups.schedule(r, {"run-a": 200.0})
    wakeups.schedule(r, {"run-a": 300.0})  # later: the earlier one stays
    assert wakeups.due_of(r, "run-a") == (200.0, None)
    wakeups.schedule(r, {"run-a": 100.0})
    assert wakeups.due_of(r, "run-a") == (100.0, None)
    wakeups.schedule(r, {"run-a": 400.0}, earlier_only=False)  # a timer that moved later
    assert wakeups.due_of(r, "run-a") == (400.0, None)


def test_forget_leaves_a_run_no_timer_and_pending_counts_both_sets(runtime: Runtime) -> None:
    r = runtime.redis
    wakeups.schedule(r, {"run-a": 10.0, "run-b": 20.0})
    wakeups.guard(r, {"run-a": 30.0, "run-c": 5.0})
    assert wakeups.pending(r) == 4
    assert wakeups.pending_by_set(r) == {"wakeup": 2, "outbox": 2}
    assert wakeups.due_next(r, 1) == [("run-a", 10.0)]
    assert wakeups.due_next(r, 5, outbox=True) == [("run-c", 5.0), ("run-a", 30.0)]
    pipe = r.pipeline(transaction=True)
    wakeups.forget(pipe, "run-a")
    pipe.execute()
    assert wakeups.due_of(r, "run-a") == (None, None)
    assert wakeups.pending(r) == 2


def test_a_claim_hides_what_is_due_until_settled(runtime: Runtime) -> None:
    r, now = runtime.redis, time.time()
    wakeups.schedule(r, {"due": now - 1, "later": now + 3600})
    due, claim_until = wakeups.claim_due(runtime.scripts, now, 10)
    assert list(due) == ["due"] and abs(due["due"] - (now - 1)) < 0.01
    assert wakeups.claim_due(runtime.scripts, now, 10)[0] == {}  # claimed: not due again yet
    wakeups.settle(runtime.scripts, "due", claim_until, "")
    assert wakeups.due_of(r, "due") == (None, None)
    assert wakeups.pending(r) == 1


def test_status_the_dashboard_and_the_schedule_show_one_count(runtime: Runtime) -> None:
    r = runtime.redis
    wakeups.schedule(r, {"run-a": time.time() + 60})
    wakeups.guard(r, {"run-b": time.time() + 120})
    assert schedule.wakeups(runtime, 5)["pending"] == 2
    assert overview(runtime)["system"]["wakeups_pending"] == 2
