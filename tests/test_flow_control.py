"""Run control: rerun from the failed step (earlier steps reused, not run again), and bulk
cancel/replay by filter through the CLI."""

from __future__ import annotations

import pytest

from joelclaw.bus.control import rerun_run
from tests.flow_helpers import all_finished, finished, start, status_is
from tests.test_bus_steps import counts
from tests.test_cli import cli_env, envelope, invoke, ok  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(120)


def test_rerun_from_the_failed_step_reuses_earlier_steps(runtime, worker):
    runtime.redis.set("jc:test:break-two", "1")
    failed = finished(runtime, start(runtime, "test/rerun"))
    assert failed.status == "failed" and counts(runtime, failed.id) == {"one": 1}
    runtime.redis.delete("jc:test:break-two")
    new = rerun_run(runtime, failed.id)
    assert new.rerun_from == "two" and new.replay_of == failed.id and new.trigger == "rerun"
    done = finished(runtime, new.id)
    assert done.status == "completed"
    assert done.output == {"one": 1, "two": 1, "three": 1}  # "one" is the original's result
    assert counts(runtime, new.id) == {"two": 1, "three": 1}  # "one" did not run again
    reused = runtime.runs.step(new.id, "one")
    assert reused is not None and reused.reused_from == failed.id


def test_rerun_cli(runtime, worker, invoke):  # noqa: F811
    runtime.redis.set("jc:test:break-two", "1")
    failed = finished(runtime, start(runtime, "test/rerun"))
    runtime.redis.delete("jc:test:break-two")
    result = ok(invoke("rerun", failed.id), "rerun")
    assert result["rerun_from"] == "two"
    assert finished(runtime, result["id"]).status == "completed"
    done = finished(runtime, start(runtime, "test/steps"))
    nothing = invoke("rerun", done.id)
    assert nothing.exit_code == 1 and "no failed step" in envelope(nothing)["error"]["message"]


def test_bulk_cancel_by_function_and_status(runtime, worker, invoke):  # noqa: F811
    sleeping = [start(runtime, "test/sleep", seconds=60) for _ in range(3)]
    for run_id in sleeping:
        status_is(runtime, run_id, "sleeping")
    other = finished(runtime, start(runtime, "test/steps"))
    result = ok(invoke("cancel", "--function", "t-sleep", "--status", "sleeping", "--yes"),
                "cancel")
    assert result["matched"] == 3
    assert {r["outcome"] for r in result["runs"]} == {"cancelled"}
    assert all(runtime.runs.status(r) == "cancelled" for r in sleeping)
    assert runtime.runs.status(other.id) == "completed"


def test_bulk_replay_by_filter_and_usage_errors(runtime, worker, invoke):  # noqa: F811
    runs = all_finished(runtime, [start(runtime, "test/steps") for _ in range(2)])
    result = ok(invoke("replay", "--function", "t-steps", "--since", "1h", "--yes"), "replay")
    assert result["matched"] == 2
    new_ids = [r["new"] for r in result["runs"]]
    assert all(finished(runtime, n).replay_of in {r.id for r in runs} for n in new_ids)
    neither = invoke("replay")
    assert neither.exit_code == 2
    both = invoke("cancel", runs[0].id, "--function", "t-steps")
    assert both.exit_code == 2
