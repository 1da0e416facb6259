"""debounce: one run `period` after the last event (per key) with the last event; a steady
stream still runs at `timeout` after the first event."""

from __future__ import annotations

import time

import pytest

from joelclaw.events.model import Event
from tests.support import wait_for

pytestmark = pytest.mark.timeout(120)


def debounce_runs(rt):
    return rt.runs.list(function="t-debounce", limit=100)


def test_one_run_with_the_last_event(runtime, worker_factory):
    worker_factory()
    worker_factory()
    for n in range(5):
        assert runtime.send(Event(name="test/debounce", data={"k": "a", "n": n}))[0].runs == []
        last_sent = time.time()
        time.sleep(0.2)
    run = wait_for(lambda: [r for r in debounce_runs(runtime) if r.status == "completed"], 15,
                   message="the debounced run")[0]
    time.sleep(1.5)  # nothing else comes
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
