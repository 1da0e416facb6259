"""`joelclaw schema`, `recover`, `capabilities`, the root map, `functions` with run counts,
`logs` (from the files `up` writes) and `watch`, in the style of test_cli.py: one envelope,
exit codes 0/1/2, JSON when piped, NDJSON for streams, text on a terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from joelclaw.cli.capabilities import FLOWS
from joelclaw.cli.runbooks import RUNBOOKS
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.supervisor.logfiles import LogFiles
from tests import test_cli
from tests.conftest import make_settings
from tests.support import WorkerProcess, wait_for
from tests.test_cli import DEAD_REDIS, Invoke, envelope, failed, ok, send

cli_env = test_cli.cli_env  # the CLI fixtures of test_cli.py
invoke = test_cli.invoke

ROOT = Path(__file__).resolve().parent.parent
NOT_CODES = ("JOELCLAW_", "FLOWER_")  # setting names quoted in messages, not error codes


def ndjson(stdout: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    assert lines, "no output"
    return lines


# ---- schema -------------------------------------------------------------------------------

def test_schema_lists_names_and_shows_one_payload_schema(invoke: Invoke) -> None:
    listing = ok(invoke("schema"), "schema")
    rows = {e["name"]: e for e in listing["events"]}
    assert rows["system/log.written"]["schema"] is True
    assert {"action", "tool", "detail"} <= set(rows["system/log.written"]["fields"])
    assert rows["test/steps"] == {"name": "test/steps", "schema": False, "fields": [],
                                  "functions": ["t-steps"]}
    assert listing["globs"] == {"globtest/*": ["t-glob"]}
    one = ok(invoke("schema", "system/log.written"), "schema")
    assert one["schema"]["required"] == ["action", "tool", "detail"]
    assert one["functions"] == ["system-logger"]
    free = ok(invoke("schema", "globtest/anything"), "schema")
    assert free["free_form"] is True and free["functions"] == ["t-glob"]
    assert "free-form" in invoke("schema", "test/steps", "--text").stdout


def test_schema_of_an_unknown_event_suggests_close_names(invoke: Invoke) -> None:
    data = failed(invoke("schema", "system/log.writen"), "UNKNOWN_EVENT", 1)
    assert "system/log.written" in data["error"]["message"]
    assert "joelclaw recover UNKNOWN_EVENT" in [a["command"] for a in data["next_actions"]]


# ---- recover and the error codes ------------------------------------------------------------

def _emitted_codes() -> set[str]:
    """Every UPPER_SNAKE string the CLI can put in an envelope's error.code."""
    found: set[str] = set()
    for path in (ROOT / "joelclaw" / "cli").glob("*.py"):
        if path.name == "runbooks.py":
            continue
        text = path.read_text()
        found |= {code for code in re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', text)
                  if not code.startswith(NOT_CODES)}
    found |= set(re.findall(r'code = "([A-Z_]+)"', (ROOT / "joelclaw" / "errors.py").read_text()))
    return found


def test_every_error_code_the_cli_emits_has_a_runbook() -> None:
    codes = _emitted_codes()
    assert {"REDIS_UNREACHABLE", "RUN_FAILED", "LOG_MISSING", "GATEWAY_NOT_RUNNING"} <= codes
    assert codes - set(RUNBOOKS) == set()


def test_recover_prints_a_runbook_by_phase(invoke: Invoke) -> None:
    book = ok(invoke("recover", "redis-unreachable"), "recover")
    assert book["code"] == "REDIS_UNREACHABLE" and set(book["phases"]) == {
        "diagnose", "fix", "verify", "rollback"}
    fix = ok(invoke("recover", "REDIS_UNREACHABLE", "--phase", "fix"), "recover")
    assert list(fix["phases"]) == ["fix"]
    listing = ok(invoke("recover"), "recover")
    assert len(listing["runbooks"]) == len(RUNBOOKS)
    unknown = failed(invoke("recover", "REDIS_UNREACHBLE"), "UNKNOWN_CODE", 1)
    assert "REDIS_UNREACHABLE" in unknown["error"]["message"]
    text = invoke("recover", "RUN_FAILED", "--text").stdout
    assert "diagnose" in text and "joelclaw rerun <id>" in text


def test_an_error_envelope_points_at_its_runbook(invoke: Invoke) -> None:
    data = failed(invoke("status", env={"JOELCLAW_REDIS_URL": DEAD_REDIS}),
                  "REDIS_UNREACHABLE", 1)
    assert data["next_actions"][-1]["command"] == "joelclaw recover REDIS_UNREACHABLE"


# ---- capabilities and the root map ----------------------------------------------------------

def test_capabilities_name_only_commands_that_exist(invoke: Invoke) -> None:
    result = ok(invoke("capabilities"), "capabilities")
    known = {c["command"] for c in result["commands"]}
    assert {"joelclaw gateway restart", "joelclaw watch", "joelclaw logs"} <= known
    for flow in FLOWS:
        for step in flow["steps"]:
            words = step["command"].split()
            path = " ".join(w for w in words[:3] if w.isidentifier() or w == "joelclaw")
            assert any(path == k or path.startswith(k + " ") or k.startswith(path)
                       for k in known), step["command"]


def test_root_shows_health_recent_runs_and_every_command(invoke: Invoke) -> None:
    run_id = send(invoke, "test/steps")["runs"][0]
    data = envelope(invoke())
    assert data["ok"] and data["command"] == "joelclaw"
    result = data["result"]
    assert result["system"]["ok"] is True and result["recent_runs"][0]["id"] == run_id
    names = {c["command"] for c in result["commands"]}
    assert {"joelclaw send", "joelclaw gateway diagnose", "joelclaw recover"} <= names
    assert data["next_actions"][0]["command"] == "joelclaw up"  # no worker is alive
    down = envelope(invoke(env={"JOELCLAW_REDIS_URL": DEAD_REDIS}))
    assert down["ok"] is True and down["result"]["system"]["ok"] is False
    assert down["result"]["system"]["error"]["code"] == "REDIS_UNREACHABLE"
    text = invoke("--text")
    assert text.exit_code == 0 and "joelclaw watch" in text.stdout


# ---- functions with counts ------------------------------------------------------------------

def test_functions_show_recent_counts_and_last_run(invoke: Invoke,
                                                   worker: WorkerProcess) -> None:
    run_id = send(invoke, "test/steps")["runs"][0]
    wait_for(lambda: ok(invoke("run", run_id), "run")["status"] == "completed", 30)
    send(invoke, "test/nonretriable")
    rows = {f["id"]: f for f in ok(invoke("functions"), "functions")}
    steps = rows["t-steps"]["recent"]
    assert steps["count"] == 1 and steps["by_status"] == {"completed": 1}
    assert steps["last_run"]["id"] == run_id and steps["durations"]["body"]["p50_ms"] > 0
    assert steps["in_progress"] == 0
    assert rows["system-logger"]["recent"]["count"] == 0

    def failures() -> int:
        rows = {f["id"]: f for f in ok(invoke("functions"), "functions")}
        return rows["t-nonretriable"]["recent"]["failed"]

    wait_for(lambda: failures() == 1, 30, message="the failure counted")
    text = invoke("functions", "--text").stdout
    assert "P95" in text and "RUNS 24H" in text
    offline = ok(invoke("functions", env={"JOELCLAW_REDIS_URL": DEAD_REDIS}), "functions")
    assert offline[0]["recent"] is None


# ---- logs -----------------------------------------------------------------------------------

def _write_logs(home: Path) -> LogFiles:
    """Lines a few ms apart (the files are merged by their millisecond stamps)."""
    files = LogFiles(home / "logs")
    for name, text in [("worker", "[INFO] worker@host ready."),
                       ("web", "[INFO] Booting worker with pid: 12"),
                       ("worker", "[ERROR] Task joelclaw.fn.x raised: boom"),
                       ("gateway", "Traceback (most recent call last):")]:
        files.write(name, text)
        time.sleep(0.005)
    return files


def test_logs_tail_merge_and_errors(invoke: Invoke, tmp_path: Path) -> None:
    _write_logs(tmp_path).close()
    merged = ok(invoke("logs"), "logs")
    assert [e["process"] for e in merged["lines"]] == ["worker", "web", "worker", "gateway"]
    assert all(e["ts"] for e in merged["lines"])
    worker = ok(invoke("logs", "worker", "-n", "1"), "logs")
    assert [e["text"] for e in worker["lines"]] == ["[ERROR] Task joelclaw.fn.x raised: boom"]
    errors = ok(invoke("logs", "errors"), "logs")
    assert [e["process"] for e in errors["lines"]] == ["worker", "gateway"]
    missing = failed(invoke("logs", "beat"), "LOG_MISSING", 1)
    assert "joelclaw up" in missing["fix"]
    assert failed(invoke("logs", "nope"), "USAGE_ERROR", 2)
    assert "worker" in invoke("logs", "--text").stdout


def _streaming(cli_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """The CLI in its own process, its NDJSON stdout read line by line as it streams."""
    env = {**os.environ, **cli_env, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "joelclaw.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_logs_follow_streams_new_lines_as_ndjson(cli_env: dict[str, str],
                                                  tmp_path: Path) -> None:
    files = _write_logs(tmp_path)
    # (the stream ends at its timeout, not by Ctrl-C: an interrupt may land between a line's
    # output and its count)
    following = _streaming(cli_env, "logs", "worker", "-n", "1", "--follow", "--timeout", "5")
    try:
        assert following.stdout is not None
        tail = following.stdout.readline()  # the last line, shown: what follows is new
        files.write("worker", "[INFO] a new line")
        rest, errors = following.communicate(timeout=60)
    finally:
        files.close()
        if following.poll() is None:
            following.kill()
            following.wait(10)
    assert following.returncode == 0 and "Traceback" not in errors, errors
    lines = ndjson(tail + rest)
    assert [line.get("type") for line in lines[:-1]] == ["log", "log"]
    assert lines[1]["text"] == "[INFO] a new line"
    assert lines[-1]["ok"] is True and lines[-1]["result"]["followed"] == 1


# ---- watch (real worker) ----------------------------------------------------------------

def _settings_for(cli_env: dict[str, str]) -> Settings:
    return make_settings(Path(cli_env["JOELCLAW_HOME"]), cli_env["JOELCLAW_REDIS_URL"])


def test_watch_follows_new_runs_through_their_steps(cli_env: dict[str, str],
                                                    worker: WorkerProcess) -> None:
    rt = Runtime(_settings_for(cli_env))
    watching = _streaming(cli_env, "watch", "--function", "t-steps", "--count", "1",
                          "--timeout", "60")
    try:
        began = watching.stdout.readline() if watching.stdout else ""  # the watch has begun
        rt.send(Event(name="test/steps"))  # so this run is a new one to it
        rest, errors = watching.communicate(timeout=90)
    finally:
        if watching.poll() is None:
            watching.kill()
            watching.wait(10)
    assert watching.returncode == 0 and "Traceback" not in errors, errors
    lines = ndjson(began + rest)
    assert lines[0]["type"] == "start"
    kinds = [line.get("type") for line in lines[1:-1]]
    assert set(kinds) == {"progress", "step"}
    steps = [(line["step"]["key"], line["step"]["status"]) for line in lines
             if line.get("type") == "step"]
    assert ("three", "completed") in steps
    statuses = [line["run"]["status"] for line in lines if line.get("type") == "progress"]
    assert statuses[-1] == "completed"
    final = lines[-1]
    assert final["ok"] and final["result"]["stopped"] == "count reached"
    assert final["result"]["finished"] == 1


def test_watch_one_run_that_fails_exits_1(invoke: Invoke, worker: WorkerProcess) -> None:
    run_id = send(invoke, "test/nonretriable")["runs"][0]
    result = invoke("watch", "--run", run_id, "--timeout", "40")
    assert result.exit_code == 1
    final = ndjson(result.stdout)[-1]
    assert final["ok"] is False and final["error"]["code"] == "RUN_FAILED"
    assert failed(invoke("watch", "--run", "run-nope"), "NOT_FOUND", 1)


@pytest.mark.parametrize("args", [["schema"], ["recover"], ["capabilities"],
                                  ["recover", "RUN_FAILED"]])
def test_terminal_output_is_text(invoke: Invoke, args: list[str]) -> None:
    result = invoke(*args, "--text")
    assert result.exit_code == 0 and not result.stdout.lstrip().startswith("{")
