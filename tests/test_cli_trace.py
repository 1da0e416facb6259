"""`joelclaw run` says what happened: each attempt of a step with its error, times and worker,
executions apart from step attempts, the event a wait matched, and a traceback that points at
the user's code rather than joelclaw's own frames."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from joelclaw.cli import cli
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.support import wait_for
from tests.test_bus_steps import finished, start

pytestmark = pytest.mark.timeout(120)


def run_cli(settings, *args: str) -> str:
    env = {"JOELCLAW_REDIS_URL": settings.redis_url, "JOELCLAW_HOME": str(settings.home),
           "JOELCLAW_FUNCTION_MODULES": "tests.functions", "NO_COLOR": "1"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_run_lists_every_attempt_and_points_at_the_users_code(runtime: Runtime, settings,
                                                                 worker):
    run = finished(runtime, start(runtime, "test/flaky", failures=10))
    text = run_cli(settings, "run", run.id, "--text")
    assert "executions 4 · step attempts 5 (retried: flaky) · function-level retries 0" in text
    attempts = text.split("attempts\n", 1)[1]
    for n in (1, 2, 3, 4):
        assert f"#{n} failed" in attempts
    assert attempts.count("RuntimeError: not yet") >= 4
    assert "w0@" in attempts
    errors = text[text.index("step flaky: RuntimeError"):]
    assert "tests/functions.py" in errors and 'raise RuntimeError("not yet")' in errors
    assert "stepbase.py" not in errors and "executor.py" not in errors

    data = json.loads(run_cli(settings, "run", run.id, "--json"))["result"]
    flaky = next(s for s in data["steps"] if s["key"] == "flaky")
    assert flaky["tries"] == 4 and len(flaky["attempt_list"]) == 4
    assert data["step_attempts"] == 5 and data["function_retries"] == 0


def test_run_shows_the_event_a_wait_matched(runtime: Runtime, settings, worker):
    run_id = start(runtime, "test/wait", key="o-77", timeout=3600)
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 20, message="waiting")
    [reply] = runtime.send(Event(name="test/reply", data={"key": "o-77"}))
    finished(runtime, run_id)
    text = run_cli(settings, "run", run_id, "--text")
    row = next(line for line in text.splitlines() if line.startswith("reply"))
    assert "completed" in row and f"matched test/reply {reply.id}" in row
    assert "waiting" not in row




def test_sending_an_awaited_event_says_which_waiting_run_it_resumed(runtime: Runtime,
                                                                    settings, worker):
    run_id = start(runtime, "test/wait", key="o-77", timeout=3600)
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 20, message="waiting")
    text = run_cli(settings, "send", "test/reply", "-d", '{"key": "o-77"}', "--follow",
                   "--timeout", "60", "--text")
    assert "resumed 1 run(s) waiting for it" in text
    assert "no run was waiting" not in text
    row = next(line for line in text.splitlines() if line.startswith(run_id))
    assert "resumed" in row and "completed" in row
    assert finished(runtime, run_id).status == "completed"
    again = json.loads(run_cli(settings, "send", "test/reply", "-d", '{"key": "x"}', "--json"))
    assert again["result"]["resumed"] == [] and again["result"]["runs"] == []


def test_follow_stops_at_a_healthy_durable_sleep_with_success(runtime: Runtime, settings,
                                                              worker):
    env = {"JOELCLAW_REDIS_URL": settings.redis_url, "JOELCLAW_HOME": str(settings.home),
           "JOELCLAW_FUNCTION_MODULES": "tests.functions"}
    result = CliRunner().invoke(cli, ["send", "test/sleep", "-d", '{"seconds": 3600}',
                                      "--follow", "--timeout", "60", "--json"], env=env)
    assert result.exit_code == 0, result.output
    [followed] = json.loads(result.stdout)["result"]["followed"]
    assert followed["status"] == "sleeping"
    assert followed["parked"]["step"] == "nap"
    assert "sleeping in step nap until" in followed["parked"]["text"]
