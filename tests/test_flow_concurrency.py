"""concurrency: at most `limit` running per key across worker processes; other keys run in
parallel; sleeping runs hold no slot; a dead worker's slot comes back when its lease expires."""

from __future__ import annotations

import pytest

from tests.flow_helpers import all_finished, finished, max_overlap, send, spans, start
from tests.support import ready_together, wait_for

pytestmark = pytest.mark.timeout(150)


def test_never_more_than_two_running_per_key_across_two_workers(runtime, worker_factory):
    ready_together(*(worker_factory(concurrency=3, wait=False) for _ in range(2)))
    ids = [start(runtime, "test/conc", k=k, i=i, hold=0.6) for i in range(6) for k in "ab"]
    runs = all_finished(runtime, ids, timeout=60)
    assert all(r.status == "completed" for r in runs)
    records = spans(runtime, "conc")
    assert len(records) == 12
    for key in "ab":
        assert max_overlap([r for r in records if r["key"] == key]) == 2
    # different keys run in parallel: more than 2 ran at once overall
    assert max_overlap(records) > 2
    held = [r for r in runs if r.holds]
    assert held, "some runs must have been held by the limit"
    assert all(h["kind"] == "concurrency" and h["limit"] == 2 for r in held for h in r.holds)


def _arrived(runtime, run_id):
    run = runtime.runs.get(run_id)
    return run is not None and (run.status != "queued" or bool(run.held or run.holds))


def test_fifo_per_key(runtime, worker_factory):
    worker_factory(concurrency=4)
    ids = []
    for i in range(6):
        ids.append(start(runtime, "test/conc", k="fifo", i=i, hold=0.5))
        # the next arrives once this one reached the limit (started, or held in line): the
        # order of arrival is the one the queue must keep, however slow the machine
        wait_for(lambda: _arrived(runtime, ids[-1]), 30, message=f"run {i} at the limit")
    all_finished(runtime, ids, timeout=60)
    order = [r["i"] for r in sorted(spans(runtime, "conc"), key=lambda r: r["start"])]
    assert order[2:] == [2, 3, 4, 5], order


def test_a_sleeping_run_frees_its_slot(runtime, worker):
    first = start(runtime, "test/conc-sleep", nap=3)
    wait_for(lambda: runtime.runs.status(first) == "sleeping", 15, message="first sleeping")
    second = start(runtime, "test/conc-sleep", nap=0)
    assert finished(runtime, second, 15).status == "completed"
    assert runtime.runs.status(first) == "sleeping"  # the second ran while the first slept
    assert finished(runtime, first, 15).status == "completed"
    assert max_overlap(spans(runtime, "conc-sleep")) == 1


def test_shared_scope_limits_across_functions(runtime, worker_factory):
    worker_factory(concurrency=4)
    ids = send(runtime, "test/conc-shared", k="x") + send(runtime, "test/conc-shared", k="x")
    assert len(ids) == 4
    all_finished(runtime, ids, timeout=40)
    assert max_overlap(spans(runtime, "conc-shared")) == 1


def test_a_sigkilled_workers_slot_comes_back_after_the_lease(runtime, worker_factory):
    doomed = worker_factory(concurrency=2)
    a = start(runtime, "test/conc", k="kill", stall=True)
    b = start(runtime, "test/conc", k="kill", stall=True)
    wait_for(lambda: runtime.redis.get(f"jc:test:count:{a}:work") and
             runtime.redis.get(f"jc:test:count:{b}:work"), 15, message="both hold slots")
    worker_factory(concurrency=2)  # the survivor: it takes the third run and parks it
    c = start(runtime, "test/conc", k="kill", hold=0.1)
    wait_for(lambda: (r := runtime.runs.get(c)) and r.held, 10, message="third run held")
    doomed.kill_all()
    runs = all_finished(runtime, [a, b, c], timeout=40)
    assert [r.status for r in runs] == ["completed"] * 3
    # the slots came back when the dead runs' leases (3 s) lapsed: their stalled (60 s) first
    # attempts never ended, the second attempts did the work; the held run ran once
    attempts = [int(runtime.redis.get(f"jc:test:count:{i}:work") or 0) for i in (a, b, c)]
    assert attempts == [2, 2, 1]
