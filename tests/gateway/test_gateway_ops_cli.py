"""`joelclaw gateway events|test|diagnose` against a real gateway worker and the fake Telegram,
and `gateway restart` plus `logs` against a real `joelclaw up` (which writes per-process logs
and restarts the gateway worker it supervises)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from joelclaw import keys
from joelclaw.cli import cli
from joelclaw.gateway.queue import MessageQueue
from tests.gateway.conftest import wait_replies
from tests.support import REPO, end_tree, wait_for

pytestmark = pytest.mark.timeout(180)


def run(settings: Any, *args: str, code: int = 0) -> dict[str, Any]:
    env = {"JOELCLAW_REDIS_URL": settings.redis_url, "JOELCLAW_HOME": str(settings.home),
           "JOELCLAW_FUNCTION_MODULES": "tests.functions"}
    if settings.telegram_token:
        env.update(JOELCLAW_TELEGRAM_TOKEN=settings.telegram_token,
                   JOELCLAW_TELEGRAM_API_URL=settings.telegram_api_url,
                   JOELCLAW_TELEGRAM_OWNER_ID=str(settings.telegram_owner_id))
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_gateway_events_lists_what_is_queued_by_priority(tg, start_gateway) -> None:
    _, rt = start_gateway(telegram_token=None)  # nothing delivers: messages stay queued
    queue = MessageQueue(rt.redis)
    queue.enqueue("function:deploy", "deploy failed", meta={"type": "vercel.deploy.error"})
    queue.enqueue("function:note", "a note", priority=2)
    result = run(rt.settings, "gateway", "events")["result"]
    assert result["depth"]["p1"] == 1 and result["depth"]["p2"] == 1
    assert result["waiting"]["p1"][0]["prompt"] == "deploy failed"


def test_gateway_test_waits_for_the_delivery(tg, start_gateway) -> None:
    _, rt = start_gateway()
    result = run(rt.settings, "gateway", "test", "--timeout", "30")["result"]
    assert result["delivered"] is True and result["latency_ms"] > 0
    assert wait_replies(tg, 1)[0].startswith("🧪 joelclaw gateway test")


def test_gateway_test_without_telegram_fails_clearly(tg, start_gateway) -> None:
    _, rt = start_gateway(telegram_token=None)
    data = run(rt.settings, "gateway", "test", code=1)
    assert data["error"]["code"] == "GATEWAY_NO_TELEGRAM"
    assert data["next_actions"][-1]["command"] == "joelclaw recover GATEWAY_NO_TELEGRAM"


def test_gateway_diagnose_checks_each_layer(tg, start_gateway) -> None:
    _, rt = start_gateway()
    wait_for(lambda: rt.redis.get(keys.GATEWAY_HEARTBEAT), 30, message="gateway heartbeat")
    result = run(rt.settings, "gateway", "diagnose")["result"]
    checks = {c["check"]: c for c in result["checks"]}
    assert result["ok"] is True
    assert [checks[n]["status"] for n in ("redis", "worker", "heartbeat", "telegram",
                                          "queue", "agent")] == ["ok"] * 6
    assert "bot @" in checks["telegram"]["detail"]


def test_gateway_diagnose_without_a_worker_fails_and_names_the_fix(
    tg, tmp_path: Path, redis_url: str
) -> None:
    from tests.gateway.conftest import gateway_settings

    settings = gateway_settings(tmp_path, redis_url, tg)
    data = run(settings, "gateway", "diagnose", code=1)
    assert data["error"]["code"] == "GATEWAY_UNHEALTHY"
    checks = {c["check"]: c for c in data["result"]["checks"]}
    assert checks["worker"]["status"] == "fail" and "joelclaw up" in checks["worker"]["fix"]
    assert checks["redis"]["status"] == "ok"
    assert run(settings, "gateway", "restart", code=1)["error"]["code"] == "GATEWAY_NOT_RUNNING"


def test_up_writes_logs_and_gateway_restart_brings_the_worker_back(
    tmp_path: Path, redis_url: str
) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOELCLAW_")}
    env.update(JOELCLAW_HOME=str(home), JOELCLAW_REDIS_URL=redis_url, PYTHONPATH=str(REPO),
               JOELCLAW_FUNCTION_MODULES="tests.functions")
    log = (tmp_path / "up.out").open("wb")
    up = subprocess.Popen([sys.executable, "-m", "joelclaw.cli", "up", "--no-web",
                           "--no-flower", "--no-beat"], cwd=REPO, env=env, stdout=log,
                          stderr=subprocess.STDOUT, start_new_session=True)
    settings = type("S", (), {"redis_url": redis_url, "home": home, "telegram_token": None,
                              "telegram_api_url": "", "telegram_owner_id": None})()
    try:
        gateway_log = home / "logs" / "gateway.log"
        wait_for(lambda: gateway_log.exists() and " ready." in gateway_log.read_text(), 60,
                 message="the gateway worker ready in its log file")
        assert (home / "logs" / "worker.log").exists() and (home / "logs" / "up.log").exists()
        tail = run(settings, "logs", "gateway", "-n", "200")["result"]["lines"]
        assert any(line["text"].endswith(" ready.") for line in tail)
        assert all(line["process"] == "gateway" and line["ts"] for line in tail)

        result = run(settings, "gateway", "restart", "--timeout", "90")["result"]
        assert result["nodes"][0].startswith("gateway@")
        assert result["back_after_s"] > result["stopped_after_s"] > 0
        supervisor = run(settings, "logs", "up", "-n", "50")["result"]["lines"]
        assert any("gateway exited with code 0" in line["text"] for line in supervisor)
        checks = {c["check"]: c for c in run(settings, "gateway", "diagnose")["result"]["checks"]}
        assert checks["worker"]["status"] == "ok" and checks["heartbeat"]["status"] == "skip"
    finally:
        end_tree(up)
        log.close()
