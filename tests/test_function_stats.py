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


def test_status_says_when_its_counts_cover_only_the_newest_runs(runtime: Runtime, settings):
    import json

    from click.testing import CliRunner

    from joelclaw.cli import cli
    from joelclaw.cli.commands import STATUS_RUNS

    for _ in range(STATUS_RUNS + 5):  # queued runs (no worker): only their count matters
        runtime.send(Event(name="test/long-step", data={"hold": 0}))
    env = {"JOELCLAW_REDIS_URL": settings.redis_url, "JOELCLAW_HOME": str(settings.home),
           "JOELCLAW_FUNCTION_MODULES": "tests.functions", "NO_COLOR": "1"}
    data = json.loads(CliRunner().invoke(cli, ["status", "--json"], env=env).stdout)["result"]
    assert data["runs"] == {"queued": STATUS_RUNS}
    assert data["runs_counted"] == {"newest": STATUS_RUNS, "stored": STATUS_RUNS + 5}
    text = CliRunner().invoke(cli, ["status", "--text"], env=env).stdout
    assert f"the newest {STATUS_RUNS} of {STATUS_RUNS + 5} stored" in text
