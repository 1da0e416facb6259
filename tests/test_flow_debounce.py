"""debounce: one run `period` after the last event (per key) with the last event; a steady
stream still runs at `timeout` after the first event."""

from __future__ import annotations

import time

import pytest

from joelclaw import keys
from joelclaw.events.model import Event
from tests.support import ready_together, wait_for, wait_settled

pytestmark = pytest.mark.timeout(120)


def debounce_runs(rt):
    return rt.runs.list(function="t-debounce", limit=100)


def test_one_run_with_the_last_event(runtime, worker_factory):
    ready_together(worker_factory(wait=False), worker_factory(wait=False))
    state = keys.flow_debounce("t-debounce", "a")
    for n in range(5):
        sent = time.time()
        assert runtime.send(Event(name="test/debounce", data={"k": "a", "n": n}))[0].runs == []
        last_sent = time.time()
        # each event pushes the run out to a quiet period after itself (not after the first)
        due = float(runtime.redis.hget(state, "due") or 0)
        assert sent + 1.0 - 0.001 <= due <= last_sent + 1.0 + 0.001
    run = wait_for(lambda: [r for r in debounce_runs(runtime) if r.status == "completed"], 15,
                   message="the debounced run")[0]
    wait_settled(runtime)  # nothing else comes: no timer, no run left to start
    assert not runtime.redis.exists(state)
    assert [t for t in runtime.redis.zrange(keys.WAKEUPS, 0, -1) if t.startswith(b"~")] == []
    runs = debounce_runs(runtime)
    assert len(runs) == 1
    assert run.output == {"n": 4, "events": 1}
    assert run.trigger == "debounce"
    assert run.created_at >= last_sent + 0.9  # a quiet period after the last event


def test_keys_debounce_separately(runtime, worker):
    for k in "xy":
        runtime.send(Event(name="test/debounce", data={"k": k, "n": 1}))
    wait_for(lambda: len([r for r in debounce_runs(runtime) if r.status == "completed"]) == 2,
             15, message="one run per key")


def test_timeout_caps_the_wait_under_a_steady_stream(runtime, worker):
    first = time.time()
    n = 0
    while time.time() - first < 4.5:  # an event every 0.4 s never leaves a 1 s quiet period
        runtime.send(Event(name="test/debounce", data={"k": "s", "n": n}))
        n += 1
        time.sleep(0.4)
    runs = wait_for(lambda: debounce_runs(runtime), 10, message="a run despite the stream")
    earliest = min(r.created_at for r in runs)
    assert earliest - first <= 3.0 + 0.8  # timeout 3 s after the first event
