"""throttle: limit 2 per 1 s (GCRA, no burst) → two start at once, then one every 0.5 s, in
arrival order per key, none dropped, and no worker is held while a run waits its turn."""

from __future__ import annotations

import pytest

from joelclaw.bus.flow import THROTTLE_SLACK
from tests.flow_helpers import all_finished, send, spans
from tests.support import ready_together

pytestmark = pytest.mark.timeout(120)


def started_in_their_slots(runtime, runs: list) -> None:
    """No body ran before the start its run was given (a busy machine may only start it later)."""
    began = {r["run"]: r["start"] for r in spans(runtime, "throttle")}
    assert set(began) == {r.id for r in runs}
    for r in runs:
        assert began[r.id] >= r.throttle_at - THROTTLE_SLACK - 0.001, \
            (r.id, began[r.id], r.throttle_at)


def test_starts_are_spaced_and_none_dropped(runtime, worker_factory):
    ready_together(*(worker_factory(concurrency=2, wait=False) for _ in range(2)))
    ids = [send(runtime, "test/throttle", k="a", i=i)[0] for i in range(8)]
    runs = all_finished(runtime, ids, timeout=60)
    assert [r.status for r in runs] == ["completed"] * 8
    started = {r["run"]: r["start"] for r in spans(runtime, "throttle")}
    assert len(started) == 8
    # the start times the throttle reserved (GCRA: one every 0.5 s, a tolerance of one more):
    # any 1 s window holds at most 2 + 1 of them (stored to the ms: 0.002 of rounding)
    reserved = sorted(r.throttle_at for r in runs)
    for i in range(len(reserved) - 2):
        assert reserved[i + 2] - reserved[i] >= 0.5 - 0.002, reserved
    assert reserved[-1] - reserved[0] >= (8 - 1) * 0.5 - 0.5 - 0.002, reserved
    # and no run started before the time reserved for it, however late a busy machine ran it
    early = [(r.throttle_at, started[r.id]) for r in runs
             if started[r.id] < r.throttle_at - THROTTLE_SLACK - 0.001]
    assert early == []
    throttled = [r for r in runs if r.holds]
    assert len(throttled) >= 5
    assert all(h["kind"] == "throttle" for r in throttled for h in r.holds)


def test_keys_are_throttled_separately(runtime, worker):
    ids = [send(runtime, "test/throttle", k=k, i=i)[0] for i in range(2) for k in "xy"]
    runs = all_finished(runtime, ids, timeout=30)
    # two per key may start at once: each was given the moment it was sent, none was held
    assert [r.throttle_at <= r.created_at + 0.01 for r in runs] == [True] * 4
    assert [r.holds for r in runs] == [[]] * 4
    started_in_their_slots(runtime, runs)


def test_order_is_fifo(runtime, worker):
    ids = [send(runtime, "test/throttle", k="f", i=i)[0] for i in range(5)]
    runs = all_finished(runtime, ids, timeout=30)
    # slots are given in arrival order: each run's start is no earlier than the one sent before
    given = [r.throttle_at for r in runs]
    assert given == sorted(given)
    assert len(set(given[2:])) == 3  # after the first two, one at a time
    started_in_their_slots(runtime, runs)
