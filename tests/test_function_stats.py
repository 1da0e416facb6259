"""Function statistics count every run of the window (no sample, no cap) and keep the body's
duration apart from the time a run waited before it first ran (broker queue, throttle)."""

from __future__ import annotations

import pytest

from joelclaw.events.model import Event
from joelclaw.insight.functions import function_rows
from joelclaw.runtime import Runtime
from tests.flow_helpers import all_finished

pytestmark = pytest.mark.timeout(240)
RUNS = 230  # more than the 200 runs the old sample stopped at


def stats(rt: Runtime, function_id: str) -> dict:
    return next(r["recent"] for r in function_rows(rt) if r["id"] == function_id)


def test_every_run_of_the_window_is_counted(runtime: Runtime, worker_factory):
    worker_factory(concurrency=4)
    ids = [runtime.send(Event(name="test/long-step", data={"hold": 0}))[0].runs[0]
           for _ in range(RUNS)]
    failed = runtime.send(Event(name="test/nonretriable"))[0].runs[0]
    runs = all_finished(runtime, [*ids, failed], timeout=200)
    assert [r.status for r in runs].count("completed") == RUNS
    counted = stats(runtime, "t-long-step")
    assert counted["count"] == RUNS and counted["ended"] == RUNS
    assert counted["by_status"] == {"completed": RUNS} and counted["in_progress"] == 0
    assert counted["durations"]["body"]["runs"] == RUNS
    bad = stats(runtime, "t-nonretriable")
    assert bad["by_status"] == {"failed": 1} and bad["failure_rate"] == 1.0


def test_a_throttled_functions_wait_is_not_its_body(runtime: Runtime, worker_factory):
    worker_factory(concurrency=4)
    ids = [runtime.send(Event(name="test/throttle", data={"k": "same", "i": i}))[0].runs[0]
           for i in range(8)]
    all_finished(runtime, ids, timeout=60)
    durations = stats(runtime, "t-throttle")["durations"]
    # Two runs per second: the last ones waited at least two seconds before they first ran.
    assert durations["before_start"]["p95_ms"] >= 2000
    assert durations["body"]["p95_ms"] < durations["before_start"]["p95_ms"]
    assert durations["total"]["p95_ms"] >= durations["before_start"]["p95_ms"] * 0.9
