"""`joelclaw explain <run>` says why a run is not running: a throttled run (which limit, until
when), a concurrency-limited run (which limit, which key, how many ahead) and a sleeping run
(until when); and the run trace shows the "held by" entries."""

from __future__ import annotations

import pytest

from tests.flow_helpers import finished, start, status_is
from tests.support import open_gate, wait_for
from tests.test_cli import cli_env, envelope, invoke, ok  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(120)


def held(runtime, run_id: str, kind: str):
    return wait_for(lambda: (r := runtime.runs.get(run_id)) and r.held and
                    r.held["kind"] == kind and r, 15, message=f"{run_id} held by {kind}")


def test_explain_a_throttled_run(runtime, worker, invoke):  # noqa: F811
    first = start(runtime, "test/throttle-slow")
    second = start(runtime, "test/throttle-slow")
    assert finished(runtime, first).status == "completed"
    held(runtime, second, "throttle")
    result = ok(invoke("explain", second), "explain")
    assert result["status"] == "queued"
    assert result["reason"].startswith("held by throttle: 1 per 30s; starts at ")
    assert 25 < result["detail"]["until"] - runtime.runs.get(first).created_at < 35
    text = invoke("explain", second, "--text").stdout
    assert "held by throttle" in text


def test_explain_a_concurrency_limited_run(runtime, worker_factory, invoke):  # noqa: F811
    worker_factory(concurrency=4)
    running = [start(runtime, "test/conc", k="ex", hold="ex") for _ in range(2)]
    for run_id in running:
        status_is(runtime, run_id, "running")
    third = start(runtime, "test/conc", k="ex", hold=0)
    held(runtime, third, "concurrency")
    fourth = start(runtime, "test/conc", k="ex", hold=0)
    held(runtime, fourth, "concurrency")
    result = ok(invoke("explain", fourth), "explain")
    assert result["reason"].startswith("held by concurrency limit 2 (fn scope) on key 'ex'")
    assert "1 run(s) ahead" in result["reason"]
    assert result["detail"]["ahead"] == 1
    open_gate(runtime.redis, "ex")  # the two running runs end
    # once it ran, the trace keeps the hold as a "held by" entry
    assert finished(runtime, fourth, 30).status == "completed"
    trace = ok(invoke("run", fourth), "run")
    assert trace["holds"][0]["kind"] == "concurrency" and trace["holds"][0]["key"] == "ex"
    assert trace["holds"][0]["released_at"] >= trace["holds"][0]["since"]
    assert "held by #1" in invoke("run", fourth, "--text").stdout


def test_explain_a_sleeping_run(runtime, worker, invoke):  # noqa: F811
    run_id = start(runtime, "test/sleep", seconds=60)
    status_is(runtime, run_id, "sleeping")
    result = ok(invoke("explain", run_id), "explain")
    assert result["reason"].startswith("sleeping in step 'nap' until ")
    assert result["detail"]["until"] > runtime.runs.get(run_id).created_at + 55


def test_explain_a_waiting_and_a_finished_run(runtime, worker, invoke):  # noqa: F811
    run_id = start(runtime, "test/wait", key="k", timeout=60)
    status_is(runtime, run_id, "waiting")
    result = ok(invoke("explain", run_id), "explain")
    assert "for event test/reply matching data.key" in result["reason"]
    done = finished(runtime, start(runtime, "test/steps"))
    assert ok(invoke("explain", done.id), "explain")["reason"] == "not running: it completed"
    missing = invoke("explain", "run-nope")
    assert missing.exit_code == 1 and envelope(missing)["error"]["code"] == "NOT_FOUND"
