"""The durable hot path's promises that its shortcuts must keep (issue 21): a cancellation
requested during a step stops the run before the next step, leaving no trace of a step that
never started; an event's search terms, log entries and its runs' index entries, queued by the
send and applied in batches, are found by a search or a listing made before any sweeper applied
them; an execution's first "running" record, held back
by its lease, shows while the step runs, and a step that kills its process every time still
ends its run failed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from joelclaw import keys
from joelclaw.bus.control import cancel_run
from joelclaw.bus.delivery import leases
from joelclaw.events import index_backlog
from joelclaw.events.index import search
from joelclaw.events.model import Event
from joelclaw.events.store import list_events, recent_by_name
from joelclaw.runtime import Runtime
from tests.support import gate_entered, open_gate, wait_for
from tests.test_bus_steps import counts, finished, start

pytestmark = pytest.mark.timeout(120)


def test_a_cancel_during_a_step_starts_nothing_after_it(runtime: Runtime, worker) -> None:
    run_id = start(runtime, "test/steps", hold="hot-cancel")
    wait_for(lambda: gate_entered(runtime.redis, "hot-cancel") == 1, 30, message="step two held")
    cancel_run(runtime, run_id, "enough")
    open_gate(runtime.redis, "hot-cancel")  # step two ends only after the request
    run = finished(runtime, run_id)
    assert run.status == "cancelled"
    assert counts(runtime, run_id) == {"one": 1, "two": 1}
    steps = {s.key: s.status for s in runtime.runs.steps(run_id)}
    assert steps == {"one": "completed", "two": "completed"}  # three was never started


def test_a_run_whose_holder_died_is_cancelled_at_once(runtime: Runtime) -> None:
    """cancel_run waits for an answer only from a live holder: the lease of a worker killed on
    this host is taken over and the run ends cancelled by the call itself."""
    run_id = start(runtime, "test/steps")  # no worker: it stays queued
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime.redis.set(keys.lease(run_id), f"{leases.HOSTNAME}:{dead.pid}:gone", px=60_000)
    run = cancel_run(runtime, run_id, "enough")
    assert run.status == "cancelled"
    assert run.error is not None and run.error["message"] == "enough"
    assert runtime.redis.exists(keys.cancel_ask(run_id), keys.cancel_ack(run_id)) == 0


def test_a_holder_that_never_answers_is_waited_for_until_its_lease_lapses(
        runtime: Runtime) -> None:
    """A live process that holds the run but never learns of the cancellation (no renewer
    watches its lease: a stuck or unreachable worker) renews nothing either: cancel_run waits
    until its lease lapses, then cancels the run itself."""
    run_id = start(runtime, "test/steps")
    ttl_ms = int(runtime.settings.runs.lease_seconds * 1000)
    runtime.redis.set(keys.lease(run_id), f"{leases.HOSTNAME}:{os.getpid()}:silent", px=ttl_ms)
    run = cancel_run(runtime, run_id, "enough")
    assert run.status == "cancelled"
    assert run.error is not None and run.error["message"] == "enough"


def test_a_search_finds_events_sent_before_any_indexing(runtime: Runtime) -> None:
    sent = [runtime.send(Event(name="test/hot-search", data={"order_id": f"o-{i}",
                                                             "note": "parcel delayed"}))[0]
            for i in range(3)]
    assert runtime.redis.llen(keys.INDEX_BACKLOG) == 3  # queued, nobody indexed them
    found = search(runtime.redis, "order_id=o-1")
    assert [r["event"]["id"] for r in found] == [sent[1].id]
    assert {r["event"]["id"] for r in search(runtime.redis, "parcel delayed")} \
        == {s.id for s in sent}
    assert runtime.redis.llen(keys.INDEX_BACKLOG) == 0
    assert runtime.redis.ttl(keys.event_term("f:order_id=o-1")) > 0  # expires with the events


def test_views_list_events_and_runs_sent_before_any_indexing(runtime: Runtime) -> None:
    sent = [runtime.send(Event(name="test/steps", data={"i": i}))[0] for i in range(2)]
    assert len([r for s in sent for r in s.runs]) == 2
    assert runtime.redis.llen(keys.INDEX_BACKLOG) == 4  # an entry per event and per run
    assert runtime.redis.zcard(keys.RUN_INDEX) == 0  # not written by the sends themselves
    assert runtime.redis.zcard(keys.EVENT_LOG) == 0
    views = {
        "runs": lambda: {r.id for r in runtime.runs.list(function="t-steps")},
        "events": lambda: {e["event"]["id"] for e in list_events(runtime.redis)},
        "look-back": lambda: {e["id"] for e in recent_by_name(runtime.redis, "test/steps", 0)},
    }
    for view, read in views.items():  # each view applies what was sent before it looked
        fresh = runtime.send(Event(name="test/steps", data={"view": view}))[0]
        assert (fresh.runs[0] if view == "runs" else fresh.id) in read(), view
        assert runtime.redis.llen(keys.INDEX_BACKLOG) == 0
    assert runtime.redis.zcard(keys.RUN_INDEX) == 5  # each entry applied once
    assert runtime.redis.zcard(keys.EVENT_LOG) == 5


def test_a_first_step_that_runs_shows_running_while_it_runs(runtime: Runtime, worker) -> None:
    """The first step's "running" record is not sent with the step's start: the lease's
    renewer sends it if the step still runs at its next look."""
    run_id = runtime.send(Event(name="test/cancel-step", data={"hold": "first-running",
                                                                "k": "x"}))[0].runs[0]
    wait_for(lambda: gate_entered(runtime.redis, "first-running") == 1, 30,
             message="the first step held")
    step = wait_for(lambda: (s := runtime.runs.step(run_id, "long")) and s.status == "running"
                    and s, 10, message="the step shown running")
    assert step.attempts == 1 and step.worker is not None
    run = runtime.runs.get(run_id)
    assert run is not None and run.status == "running" and run.executions == 1
    assert run.started_at is not None
    open_gate(runtime.redis, "first-running")
    wait_for(lambda: (s := runtime.runs.step(run_id, "long")) and s.status == "completed", 30,
             message="the step completed")
    cancel_run(runtime, run_id, "done looking")


def test_a_step_that_kills_its_process_every_time_ends_its_run_failed(
        runtime: Runtime, worker) -> None:
    """An attempt that dies before its record was written leaves no trace, so the next
    execution, told that one died holding the lease, writes its record at once: the step runs
    at most once more than its retries allow, then the run fails instead of looping."""
    run_id = start(runtime, "test/killer-step")
    run = finished(runtime, run_id, timeout=90)
    assert run.status == "failed"
    assert run.error is not None and "died during all" in run.error["message"]
    retries = 1  # t-killer-step's
    assert retries + 1 <= counts(runtime, run_id)["die"] <= retries + 2


def _lease_index_entry(runtime: Runtime, target: str) -> None:
    """What a holder that died leaves: its lease key lapsed, its entry in the lease index."""
    runtime.redis.zadd(keys.LEASES, {target: 1.0})


def test_begin_tells_whether_the_previous_execution_gave_its_lease_back(
        runtime: Runtime) -> None:
    run_id = start(runtime, "test/steps")  # no worker: it stays queued
    first = leases.acquire(runtime.scripts, run_id, ttl=20)
    assert first is not None and first.clean  # the first execution
    first.release()
    again = leases.acquire(runtime.scripts, run_id, ttl=20)
    assert again is not None and again.clean  # the previous one gave it back
    runtime.redis.delete(keys.lease(run_id))  # the holder died: its lease lapses, unreleased
    died = leases.acquire(runtime.scripts, run_id, ttl=20)
    assert died is not None and not died.clean
    died.release()
    # The sweeper woke the run of a holder that died (its index entry gone): it marked the run
    _lease_index_entry(runtime, run_id)
    runtime.scripts.expired_leases(keys=[keys.LEASES, keys.WAKEUPS],
                                   args=[2.0, keys.lease(""), 10, keys.run("")])
    assert runtime.redis.zscore(keys.LEASES, run_id) is None
    assert runtime.redis.hget(keys.run(run_id), "lost") == b"1"
    swept = leases.acquire(runtime.scripts, run_id, ttl=20)
    assert swept is not None and not swept.clean
    assert runtime.redis.hexists(keys.run(run_id), "lost") == 0  # read once
    swept.release()
    after = leases.acquire(runtime.scripts, run_id, ttl=20)
    assert after is not None and after.clean
    after.release()


def test_the_sweeper_marks_no_run_for_a_parallel_member_or_a_run_that_is_gone(
        runtime: Runtime) -> None:
    run_id = start(runtime, "test/steps")
    member = f"{run_id}|fan|0"
    _lease_index_entry(runtime, member)
    _lease_index_entry(runtime, "run-that-is-gone")
    woken = runtime.scripts.expired_leases(keys=[keys.LEASES, keys.WAKEUPS],
                                           args=[2.0, keys.lease(""), 10, keys.run("")])
    assert sorted(w.decode() for w in woken) == sorted([member, "run-that-is-gone"])
    assert runtime.redis.hexists(keys.run(run_id), "lost") == 0
    assert runtime.redis.exists(keys.run("run-that-is-gone")) == 0


def test_an_entry_that_is_not_one_is_skipped_and_the_rest_applied(runtime: Runtime) -> None:
    runtime.redis.set("jc:test:not-a-set", "x")
    runtime.redis.rpush(keys.INDEX_BACKLOG, "not json", '{"a": 1}', '[1, 2, 3, 4]',
                        '["1", "evt-x", [], ["jc:events"]]', '[1, "evt-y", "w:x", {"k": 1}]',
                        '[1, "evt-z", [], ["jc:test:not-a-set"]]')
    sent = runtime.send(Event(name="test/hot-bad", data={"note": "after the junk"}))[0]
    assert index_backlog.catch_up(runtime.redis) == 7
    assert runtime.redis.llen(keys.INDEX_BACKLOG) == 0
    assert [e["event"]["id"] for e in list_events(runtime.redis)] == [sent.id]
    assert [r["event"]["id"] for r in search(runtime.redis, "junk")] == [sent.id]
    assert not runtime.redis.exists(keys.event_term("w:x"))  # a term list that is not a list
