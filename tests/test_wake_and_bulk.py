"""Acting on runs from outside: wake a sleeping run now (its trace says who woke it), and bulk
cancel/replay through a preview, a confirmed count and a job whose progress anyone can read;
what cannot apply (cancelling finished runs, more runs than confirmed) is refused."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from joelclaw import keys
from joelclaw.bus.control import bulk, wake_run
from joelclaw.errors import JoelclawError
from tests.flow_helpers import all_finished, finished, start, status_is
from tests.test_cli import cli_env, envelope, failed, invoke, ok  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(120)


def test_a_sleeping_run_is_woken_now_and_its_trace_says_by_whom(runtime, worker):
    run_id = start(runtime, "test/sleep", seconds=3600)
    status_is(runtime, run_id, "sleeping")
    planned = runtime.runs.step(run_id, "nap").until
    woken = wake_run(runtime, run_id, by="owner (test)")
    assert woken["step"] == "nap" and woken["planned_until"] == planned
    done = finished(runtime, run_id)
    assert done.status == "completed" and done.output == {"after": 1}
    nap = runtime.runs.step(run_id, "nap")
    assert nap.status == "completed" and nap.woken_by == "owner (test)"
    assert nap.planned_until == planned and nap.until < planned
    with pytest.raises(JoelclawError, match="not sleeping"):
        wake_run(runtime, run_id)


def test_wake_from_the_cli(runtime, worker, invoke):  # noqa: F811
    run_id = start(runtime, "test/sleep", seconds=3600)
    status_is(runtime, run_id, "sleeping")
    assert ok(invoke("wake", run_id), "wake")["woken_by"] == "owner (cli)"
    assert finished(runtime, run_id).status == "completed"
    done = invoke("wake", run_id)
    assert done.exit_code == 1 and "not sleeping" in envelope(done)["error"]["message"]


def test_preview_then_a_job_replays_exactly_the_confirmed_runs(runtime, worker):
    runtime.redis.set("jc:test:break-two", "1")
    failures = all_finished(runtime, [start(runtime, "test/rerun") for _ in range(3)])
    assert {r.status for r in failures} == {"failed"}
    runtime.redis.delete("jc:test:break-two")
    selection = bulk.Selection(function="t-rerun", statuses=["failed"])
    seen = bulk.preview(runtime, "replay", selection)
    assert seen["count"] == 3 and not seen["limited"]
    assert {r["id"] for r in seen["sample"]} == {r.id for r in failures}
    with pytest.raises(bulk.BulkError, match="3 runs match now, more than the 2 previewed"):
        bulk.create(runtime, "replay", selection, expect=2, by="test")
    job = bulk.create(runtime, "replay", selection, expect=3, by="test")
    assert job["status"] == "running" and job["done"] == 0 and job["total"] == 3
    seen_progress = []
    done = bulk.execute(runtime, job["id"], seen_progress.append)
    assert done["status"] == "done" and done["done"] == 3 and done["counts"] == {"replayed": 3}
    assert [o["id"] for o in seen_progress] == [o["id"] for o in done["results"]]
    for outcome in done["results"]:
        assert finished(runtime, outcome["new"]).status == "completed"
    assert bulk.recent(runtime)[0]["id"] == job["id"]


def test_what_cannot_apply_is_refused(runtime):
    with pytest.raises(bulk.BulkError, match="cannot cancel completed runs: they have finished"):
        bulk.preview(runtime, "cancel", bulk.Selection(statuses=["completed"]))
    with pytest.raises(bulk.BulkError, match="needs a filter"):
        bulk.preview(runtime, "replay", bulk.Selection())
    with pytest.raises(bulk.BulkError, match="unknown bulk action"):
        bulk.preview(runtime, "delete", bulk.Selection(function="t-steps"))
    run_id = start(runtime, "test/steps")  # queued: no worker
    seen = bulk.preview(runtime, "cancel", bulk.Selection(function="t-steps"))
    assert seen["count"] == 1 and seen["sample"][0]["id"] == run_id
    assert seen["filter"]["statuses"] == []  # no status given: the runs that have not ended


def test_an_interrupted_job_resumes_where_it_stopped(runtime):
    runs = [start(runtime, "test/steps") for _ in range(3)]
    selection = bulk.Selection(function="t-steps")
    job = bulk.create(runtime, "cancel", selection, expect=3, by="test")
    order = json.loads(runtime.redis.hget(keys.bulk_job(job["id"]), "spec"))["ids"]
    assert sorted(order) == sorted(runs)
    # its executor died after the first run of the job: one outcome recorded, then silence
    first = bulk._cancel(runtime, order[0], "test")
    bulk._record(runtime, job["id"], first)
    runtime.redis.hset(keys.bulk_job(job["id"]), "updated_at", time.time() - 60)
    stalled = bulk.get(runtime, job["id"])
    assert stalled["status"] == "interrupted" and stalled["done"] == 1
    done = bulk.execute(runtime, job["id"])
    assert done["status"] == "done" and done["done"] == 3
    # each run once, in the job's order: the recorded one is not repeated
    assert [o["id"] for o in done["results"]] == order
    listed = [r.id for r in runtime.runs.list(function="t-steps")]
    assert sorted(listed) == sorted(runs)
    assert {runtime.runs.status(r) for r in runs} == {"cancelled"}


def test_cli_bulk_needs_yes_in_json_mode_and_refuses_finished_runs(runtime, worker,
                                                                  invoke):  # noqa: F811
    sleeping = [start(runtime, "test/sleep", seconds=600) for _ in range(2)]
    for run_id in sleeping:
        status_is(runtime, run_id, "sleeping")
    asked = failed(invoke("cancel", "--function", "t-sleep"), "CONFIRMATION_REQUIRED", 2)
    assert asked["result"]["matched"] == 2 and "--yes" in asked["error"]["message"]
    assert {runtime.runs.status(r) for r in sleeping} == {"sleeping"}  # nothing changed
    refused = failed(invoke("cancel", "--status", "completed", "--yes"), "BULK_REFUSED", 2)
    assert "cannot cancel completed runs" in refused["error"]["message"]
    result = ok(invoke("cancel", "--function", "t-sleep", "--yes"), "cancel")
    assert result["matched"] == 2 and result["counts"] == {"cancelled": 2}
    assert bulk.get(runtime, result["job"])["status"] == "done"


def _terminal(args: list[str], env: dict[str, str], answer: bytes) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, answer its question, return (exit status, screen)."""
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "joelclaw.cli", *args], stdin=child,
                            stdout=child, stderr=child, env={**os.environ, **env},
                            close_fds=True)
    os.close(child)
    screen, answered = b"", False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(main, answer)
                answered = True
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=30)
    os.close(main)
    return code, screen.decode(errors="replace")


def test_cli_bulk_asks_on_a_terminal(runtime, worker, cli_env):  # noqa: F811
    sleeping = [start(runtime, "test/sleep", seconds=600) for _ in range(2)]
    for run_id in sleeping:
        status_is(runtime, run_id, "sleeping")
    args = ["cancel", "--function", "t-sleep"]
    code, screen = _terminal(args, cli_env, b"n\n")
    assert code == 1 and "Cancel 2 run(s)" in screen and "not confirmed" in screen
    assert {runtime.runs.status(r) for r in sleeping} == {"sleeping"}
    code, screen = _terminal(args, cli_env, b"y\n")
    assert code == 0 and "2 run(s) matched: 2 cancelled" in screen, screen
    assert {runtime.runs.status(r) for r in sleeping} == {"cancelled"}
    assert json.loads(runtime.redis.hget(keys.bulk_job(
        bulk.recent(runtime)[0]["id"]), "spec"))["by"] == "cli"
