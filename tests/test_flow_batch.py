"""batch: runs receive lists of up to max_size events (ctx.events); a partial batch runs when
its timeout after the first event passes."""

from __future__ import annotations

import time

import pytest

from joelclaw.events.model import Event
from tests.flow_helpers import finished
from tests.support import ready_together, wait_for

pytestmark = pytest.mark.timeout(120)


def test_sizes_and_timeout(runtime, worker_factory):
    ready_together(worker_factory(wait=False), worker_factory(wait=False))
    started = []
    for i in range(7):
        started += runtime.send(Event(name="test/batch", data={"k": "a", "i": i}))[0].runs
    assert len(started) == 2  # two full batches start at once
    full = [finished(runtime, run_id) for run_id in started]
    assert sorted(r.output for r in full) == [[0, 1, 2], [3, 4, 5]]
    sent_last = time.time()
    runs = wait_for(lambda: [r for r in runtime.runs.list(function="t-batch")
                             if r.id not in started and r.status == "completed"], 10,
                    message="the partial batch after its timeout")
    assert runs[0].output == [6]
    assert runs[0].created_at - sent_last >= 0.8  # waited for the 1 s timeout
    assert runs[0].trigger == "batch"


def test_batches_are_per_key(runtime, worker):
    for i in range(4):
        runtime.send(Event(name="test/batch", data={"k": "ab"[i % 2], "i": i}))
    def both_done() -> list | None:  # two runs, both completed (not just the first of them)
        runs = runtime.runs.list(function="t-batch")
        return runs if len(runs) == 2 and all(r.status == "completed" for r in runs) else None

    runs = wait_for(both_done, 10, message="two batches")
    assert sorted(r.output for r in runs) == [[0, 2], [1, 3]]
