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
    assert counted["count"] == RUNS and counted["ended"] == RUNS  # created in the window
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
    assert durations["body"]["runs"] == durations["before_start"]["runs"] == 8


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


def test_a_run_still_going_is_in_progress_until_it_ends(runtime: Runtime, worker_factory):
    from joelclaw.bus.control import cancel_run
    from tests.support import wait_for

    worker_factory()
    run_id = runtime.send(Event(name="test/sleep", data={"seconds": 3600}))[0].runs[0]
    wait_for(lambda: runtime.runs.status(run_id) == "sleeping", 20, message="sleeping")
    going = stats(runtime, "t-sleep")
    assert going["count"] == 1 and going["in_progress"] == 1 and going["by_status"] == {}
    cancel_run(runtime, run_id, "enough")
    ended = stats(runtime, "t-sleep")
    assert ended["in_progress"] == 0 and ended["by_status"] == {"cancelled": 1}
    assert ended["durations"]["body"]["runs"] == 1  # it ran its first step before sleeping
