"""The `joelclaw` CLI against a real Redis and real workers: the envelope, exit codes, and that
bad input or a dead Redis gives a clear message and never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from joelclaw.cli import cli
from tests.support import WorkerProcess, wait_for

DEAD_REDIS = "redis://127.0.0.1:1/0"
ENVELOPE_KEYS = {"ok", "command", "result", "next_actions"}
Invoke = Callable[..., Result]


@pytest.fixture
def cli_env(redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {"JOELCLAW_REDIS_URL": redis_url, "JOELCLAW_HOME": str(tmp_path),
            "JOELCLAW_FUNCTION_MODULES": "tests.functions"}


@pytest.fixture
def invoke(cli_env: dict[str, str]) -> Invoke:
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        result = runner.invoke(cli, list(args), env={**cli_env, **(env or {})})
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exc_info)
        assert "Traceback" not in result.stderr
        return result

    return run


def envelope(result: Result) -> dict[str, Any]:
    """Exactly one JSON object on stdout, shaped as SPEC §12 says."""
    data = json.loads(result.stdout)
    assert isinstance(data["ok"], bool)
    assert data["command"].startswith("joelclaw")
    assert "result" in data
    for item in data["next_actions"]:
        assert set(item) == {"command", "description"}
        assert item["command"].startswith("joelclaw ") and item["description"]
    if data["ok"]:
        assert set(data) == ENVELOPE_KEYS
    else:
        assert set(data) == ENVELOPE_KEYS | {"error", "fix"}
        assert data["error"]["message"] and data["error"]["code"] and data["fix"]
    return data


def ok(result: Result, command: str) -> Any:
    assert result.exit_code == 0, result.output
    data = envelope(result)
    assert data["ok"] is True and data["command"] == f"joelclaw {command}"
    return data["result"]


def failed(result: Result, code: str, exit_code: int) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.output
    data = envelope(result)
    assert data["ok"] is False and data["error"]["code"] == code
    return data


def send(invoke: Invoke, name: str, *args: str) -> dict[str, Any]:
    return ok(invoke("send", name, *args), "send")


def wait_run(invoke: Invoke, run_id: str, status: str, timeout: float = 30) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        trace = ok(invoke("run", run_id, "--json"), "run")
        return trace if trace["status"] == status else None

    return wait_for(reached, timeout, interval=0.2, message=f"run {run_id} {status}")


# ---- envelope for every command -----------------------------------------------------------

@pytest.mark.parametrize("command", ["status", "functions", "runs", "events", "schedule",
                                     "queues"])
def test_every_listing_command_prints_one_envelope(invoke: Invoke, command: str) -> None:
    ok(invoke(command, "--json"), command)
    ok(invoke(command), command)  # JSON is automatic when stdout is not a terminal


def test_root_lists_the_commands(invoke: Invoke) -> None:
    data = envelope(invoke())
    assert data["ok"] and data["command"] == "joelclaw"
    names = {c["command"] for c in data["result"]["commands"]}
    assert {"joelclaw send", "joelclaw runs", "joelclaw up", "joelclaw queues"} <= names


def test_group_level_json_flag_works(invoke: Invoke) -> None:
    ok(invoke("--json", "functions"), "functions")


# ---- send, runs, run, events, event (real worker) -----------------------------------------

def test_send_then_runs_shows_it_completed_with_three_steps(
    invoke: Invoke, worker: WorkerProcess
) -> None:
    sent = send(invoke, "test/steps")
    assert sent["status"] == "dispatched" and len(sent["runs"]) == 1
    run_id = sent["runs"][0]

    def completed() -> dict[str, Any] | None:
        rows = ok(invoke("runs", "--json", "--function", "t-steps"), "runs")
        return next((r for r in rows if r["id"] == run_id and r["status"] == "completed"), None)

    row = wait_for(completed, 30, interval=0.2, message="t-steps completed")
    assert row["steps"] == 3 and row["event_name"] == "test/steps"
    rows = ok(invoke("runs", "--status", "completed", "--status", "failed", "--since", "1h",
                     "--event", "test/steps", "--limit", "5"), "runs")
    assert [r["id"] for r in rows] == [run_id]
    assert ok(invoke("runs", "--status", "failed"), "runs") == []


def test_run_shows_the_full_trace(invoke: Invoke, worker: WorkerProcess) -> None:
    run_id = send(invoke, "test/steps")["runs"][0]
    trace = wait_run(invoke, run_id, "completed")
    assert trace["function"] == "t-steps" and trace["event"]["name"] == "test/steps"
    assert [s["key"] for s in trace["steps"]] == ["one", "two", "three"]
    for step in trace["steps"]:
        assert step["type"] == "run" and step["status"] == "completed"
        assert step["attempts"] == 1 and "queue_delay_ms" in step and "execution_ms" in step
    assert trace["output"]["one"] == 1
    text = invoke("run", run_id, "--text")
    assert text.exit_code == 0
    assert "three" in text.stdout and "completed" in text.stdout and "█" in text.stdout
    assert not text.stdout.lstrip().startswith("{")


def test_send_follow_waits_and_reports_progress_on_stderr(
    invoke: Invoke, worker: WorkerProcess
) -> None:
    result = invoke("send", "test/steps", "--follow", "--timeout", "30")
    sent = ok(result, "send")
    assert [r["status"] for r in sent["followed"]] == ["completed"]
    assert "step three: completed" in result.stderr
    assert "completed" in result.stderr.splitlines()[-1]


def test_send_follow_failed_run_exits_1(invoke: Invoke, worker: WorkerProcess) -> None:
    data = failed(invoke("send", "test/nonretriable", "--follow", "--timeout", "30"),
                  "RUN_FAILED", 1)
    assert data["result"]["followed"][0]["status"] == "failed"
    assert "do not retry" in data["error"]["message"]


def test_send_follow_timeout_exits_1(invoke: Invoke) -> None:
    data = failed(invoke("send", "test/steps", "--follow", "--timeout", "0.5"),
                  "FOLLOW_TIMEOUT", 1)
    assert data["result"]["followed"][0]["status"] == "queued"


def test_events_and_event_with_runs_and_duplicates(invoke: Invoke) -> None:
    first = send(invoke, "test/steps", "--id", "evt-cli-1", "-d", '{"hold": 0}')
    again = send(invoke, "test/steps", "--id", "evt-cli-1")
    assert again["status"] == "deduplicated" and again["runs"] == []
    send(invoke, "other/thing.done", "-d", '{"x": 1}')
    listed = ok(invoke("events", "--name", "test/steps", "--since", "10m"), "events")
    assert [e["event"]["id"] for e in listed] == ["evt-cli-1"]
    assert listed[0]["event"]["data"] == {"hold": 0}
    by_prefix = ok(invoke("events", "--prefix", "other/", "--limit", "5"), "events")
    assert [e["event"]["name"] for e in by_prefix] == ["other/thing.done"]
    detail = ok(invoke("event", "evt-cli-1"), "event")
    assert detail["duplicates"] == 1
    assert [r["id"] for r in detail["runs"]] == first["runs"]
    assert detail["runs"][0]["function"] == "t-steps"


# ---- cancel and replay --------------------------------------------------------------------

def test_cancel_a_sleeping_run(invoke: Invoke, worker: WorkerProcess) -> None:
    run_id = send(invoke, "test/sleep", "-d", '{"seconds": 60}')["runs"][0]
    wait_run(invoke, run_id, "sleeping")
    result = ok(invoke("cancel", run_id, "--reason", "test"), "cancel")
    assert result["status"] == "cancelled" and result["outcome"] == "cancelled"
    assert wait_run(invoke, run_id, "cancelled")["status"] == "cancelled"
    again = ok(invoke("cancel", run_id), "cancel")
    assert again["outcome"] == "already cancelled"


def test_replay_creates_a_new_run(invoke: Invoke, worker: WorkerProcess) -> None:
    run_id = send(invoke, "test/steps")["runs"][0]
    wait_run(invoke, run_id, "completed")
    new = ok(invoke("replay", run_id), "replay")
    assert new["id"] != run_id and new["replay_of"] == run_id and new["function"] == "t-steps"
    trace = wait_run(invoke, new["id"], "completed")
    assert trace["replay_of"] == run_id and trace["trigger"] == "replay"


# ---- bad input: exit 2, no traceback ------------------------------------------------------

def test_invalid_event_name_exits_2(invoke: Invoke) -> None:
    data = failed(invoke("send", "Not A Name"), "INVALID_EVENT", 2)
    assert "invalid event name" in data["error"]["message"]
    text = invoke("send", "Not A Name", "--text")
    assert text.exit_code == 2 and "invalid event name" in text.stderr and "fix:" in text.stderr


def test_invalid_payload_for_a_modelled_event_exits_2(invoke: Invoke) -> None:
    data = failed(invoke("send", "system/log.written", "-d", '{"action": "x"}'),
                  "INVALID_EVENT", 2)
    assert "data.tool" in data["error"]["message"]


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", "42"])
def test_invalid_data_json_exits_2(invoke: Invoke, raw: str) -> None:
    data = failed(invoke("send", "test/steps", "-d", raw), "INVALID_JSON", 2)
    assert "--data" in data["error"]["message"]


def test_data_from_a_file(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('{"from": "file"}')
    event_id = send(invoke, "test/filed", "-d", f"@{path}")["id"]
    assert ok(invoke("event", event_id), "event")["event"]["data"] == {"from": "file"}


@pytest.mark.parametrize("args", [["runs", "--since", "banana"], ["events", "--since", "1y"]])
def test_bad_duration_exits_2(invoke: Invoke, args: list[str]) -> None:
    data = failed(invoke(*args), "INVALID_DURATION", 2)
    assert "duration" in data["error"]["message"]


@pytest.mark.parametrize("args", [["runs", "--bogus"], ["runs", "--status", "sleepy"],
                                  ["runs", "--limit", "0"], ["run"], ["nonsense"]])
def test_click_usage_errors_are_enveloped(invoke: Invoke, args: list[str]) -> None:
    failed(invoke(*args), "USAGE_ERROR", 2)


def test_click_usage_errors_on_a_terminal_are_text(invoke: Invoke) -> None:
    result = invoke("runs", "--bogus", "--text")
    assert result.exit_code == 2 and result.stdout == ""
    assert "No such option" in result.stderr


def test_bad_setting_exits_2_naming_the_variable(invoke: Invoke) -> None:
    data = failed(invoke("status", env={"JOELCLAW_WEB_PORT": "abc"}), "CONFIG_ERROR", 2)
    assert "JOELCLAW_WEB_PORT" in data["error"]["message"]
    up = failed(invoke("up", "--json", env={"JOELCLAW_WEB_PORT": "abc"}), "CONFIG_ERROR", 2)
    assert up["command"] == "joelclaw up"


# ---- not found and Redis down: exit 1 -----------------------------------------------------

@pytest.mark.parametrize("command", ["run", "cancel", "replay", "event"])
def test_unknown_id_is_not_found(invoke: Invoke, command: str) -> None:
    data = failed(invoke(command, "run-does-not-exist"), "NOT_FOUND", 1)
    assert "run-does-not-exist" in data["error"]["message"]


@pytest.mark.parametrize("args", [["status"], ["runs"], ["run", "x"], ["send", "test/steps"],
                                  ["events"], ["schedule"], ["queues"], ["cancel", "x"]])
def test_redis_down_is_reported_without_traceback(invoke: Invoke, args: list[str]) -> None:
    data = failed(invoke(*args, env={"JOELCLAW_REDIS_URL": DEAD_REDIS}), "REDIS_UNREACHABLE", 1)
    assert "joelclaw up" in data["fix"] and "JOELCLAW_REDIS_URL" in data["fix"]


def test_redis_down_on_a_terminal_is_red_text_on_stderr(invoke: Invoke) -> None:
    result = invoke("status", "--text", env={"JOELCLAW_REDIS_URL": DEAD_REDIS})
    assert result.exit_code == 1 and result.stdout == ""
    assert "cannot reach Redis" in result.stderr and "fix:" in result.stderr


# ---- status, functions, schedule, queues --------------------------------------------------

def test_status_with_a_live_worker(invoke: Invoke, worker: WorkerProcess) -> None:
    def alive() -> dict[str, Any] | None:
        result = ok(invoke("status"), "status")
        return result if result["workers"]["alive"] else None

    status = wait_for(alive, 20, interval=0.2, message="a live worker in status")
    assert status["redis"]["ok"] and status["redis"]["latency_ms"] >= 0
    assert status["functions"] >= 10 and status["beat"]["age_s"] is None
    assert isinstance(status["runs"], dict) and status["wakeups_pending"] >= 0
    assert "joelclaw up" not in [a["command"] for a in envelope(invoke("status"))["next_actions"]]


def test_status_says_where_each_credential_is_never_its_value(invoke: Invoke,
                                                               cli_env: dict[str, str]) -> None:
    home = Path(cli_env["JOELCLAW_HOME"])
    generated = ok(invoke("status"), "status")["logins"]
    assert generated == {"web": str(home / "secrets" / "api-token"),
                         "flower": str(home / "secrets" / "flower")}
    configured = {"JOELCLAW_API_TOKEN": "tok-" + "x" * 40, "JOELCLAW_FLOWER_USER": "owner",
                  "JOELCLAW_FLOWER_PASSWORD": "pw-" + "y" * 30}
    result = invoke("status", env=configured)
    assert ok(result, "status")["logins"] == {
        "web": "JOELCLAW_API_TOKEN", "flower": "JOELCLAW_FLOWER_USER/_PASSWORD"}
    assert "x" * 40 not in result.stdout and "y" * 30 not in result.stdout
    text = invoke("status", "--text").stdout
    assert "flower login" in text and str(home / "secrets" / "flower") in text


def test_status_without_workers_suggests_up(invoke: Invoke) -> None:
    data = envelope(invoke("status"))
    workers = {k: v for k, v in data["result"]["workers"].items() if k != "latency_ms"}
    nobody = {"ok": False, "status": "down", "alive": 0, "nodes": [], "stale": []}
    assert workers == {"ok": False, "status": "down", "alive": 0, "seen": [], "roles": {
        "worker": nobody, "gateway": {**nobody, "status": "not_expected", "expected": False}}}
    assert data["result"]["failing"] == ["beat", "workers"]
    assert data["next_actions"][0]["command"] == "joelclaw up"


def test_functions_lists_system_heartbeat(invoke: Invoke) -> None:
    rows = {f["id"]: f for f in ok(invoke("functions"), "functions")}
    heartbeat = rows["system-heartbeat"]
    assert heartbeat["task"] == "joelclaw.fn.system-heartbeat"
    assert heartbeat["triggers"] == ["cron */15 * * * * (UTC, catch-up latest)",
                                     "system/heartbeat.wake"]
    assert heartbeat["queue"] == "joelclaw" and heartbeat["retries"] == 2
    assert rows["t-steps"]["retries"] == 3


def test_functions_needs_no_redis(invoke: Invoke) -> None:
    ok(invoke("functions", env={"JOELCLAW_REDIS_URL": DEAD_REDIS}), "functions")


def test_schedule_shows_crons_and_pending_wakeups(invoke: Invoke) -> None:
    run_id = send(invoke, "test/sleep")["runs"][0]  # no worker: its outbox wake-up waits
    result = ok(invoke("schedule"), "schedule")
    crons = {c["function"]: c for c in result["crons"]}
    heartbeat = crons["system-heartbeat"]
    assert heartbeat["expression"] == "*/15 * * * *" and heartbeat["timezone"] == "UTC"
    assert heartbeat["next_utc"].endswith("+00:00")
    minute = int(heartbeat["next_utc"][14:16])
    assert minute % 15 == 0
    assert result["wakeups"]["pending"] >= 1
    assert run_id in [w["run"] for w in result["wakeups"]["next"]]
    assert result["wakeups"]["next"][0]["function"] == "t-sleep"


def test_queues_counts_waiting_messages_by_priority(invoke: Invoke) -> None:
    before = {q["name"]: q for q in ok(invoke("queues"), "queues")["queues"]}
    assert before["joelclaw"]["depth"] == 0 and "gateway" in before
    send(invoke, "test/steps")
    send(invoke, "test/steps")
    result = ok(invoke("queues"), "queues")
    queue = {q["name"]: q for q in result["queues"]}["joelclaw"]
    assert queue["depth"] == 2 and sum(queue["by_priority"].values()) == 2
    assert set(queue["by_priority"]) == {str(n) for n in range(10)}
    assert result["transport"] == "redis" and result["unacked"] == 0


def test_queues_on_amqp_says_depth_is_unavailable(invoke: Invoke) -> None:
    result = ok(invoke("queues", env={"JOELCLAW_BROKER_URL": "amqp://guest@127.0.0.1:1//"}),
                "queues")
    assert result["depth_available"] is False and "management" in result["note"]


# ---- terminal rendering -------------------------------------------------------------------

@pytest.mark.parametrize("args", [["status"], ["functions"], ["runs"], ["events"],
                                  ["schedule"], ["queues"], ["send", "test/steps"]])
def test_terminal_output_is_text_not_json(invoke: Invoke, args: list[str]) -> None:
    result = invoke(*args, "--text")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() and not result.stdout.lstrip().startswith("{")


# ---- unexpected errors and settings warnings ----------------------------------------------

def test_unexpected_error_is_enveloped_and_its_traceback_kept_in_a_log(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cli_broken_functions.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = invoke("functions", env={"JOELCLAW_FUNCTION_MODULES": "cli_broken_functions"})
    data = failed(result, "INTERNAL_ERROR", 1)
    assert "boom at import" in data["error"]["message"]
    log = tmp_path / "logs" / "cli-errors.log"
    assert str(log) in data["fix"] and "RuntimeError" in log.read_text()


def test_misspelt_setting_is_one_warning_line(invoke: Invoke) -> None:
    result = invoke("functions", env={"JOELCLAW_REDIS_URLL": "x"})
    assert result.exit_code == 0
    assert "warning: unknown setting JOELCLAW_REDIS_URLL; did you mean JOELCLAW_REDIS_URL?" \
        in result.stderr


def test_cancel_and_replay_render_as_text(invoke: Invoke) -> None:
    run_id = send(invoke, "test/sleep", "-d", '{"seconds": 60}')["runs"][0]
    replayed = invoke("replay", run_id, "--text")
    assert replayed.exit_code == 0 and f"replay of  {run_id}" in replayed.stdout
    cancelled = invoke("cancel", run_id, "--text")
    assert cancelled.exit_code == 0 and "outcome" in cancelled.stdout
    assert ok(invoke("run", run_id), "run")["status"] == "cancelled"
