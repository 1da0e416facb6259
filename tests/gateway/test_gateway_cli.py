"""`joelclaw gateway status|push|drain` against a real Redis (and a real gateway worker)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from joelclaw.cli import cli
from tests.gateway.conftest import wait_replies


def run(settings, *args: str) -> dict:
    env = {"JOELCLAW_REDIS_URL": settings.redis_url, "JOELCLAW_HOME": str(settings.home),
           "JOELCLAW_TELEGRAM_TOKEN": settings.telegram_token or "",
           "JOELCLAW_TELEGRAM_API_URL": settings.telegram_api_url,
           "JOELCLAW_TELEGRAM_OWNER_ID": str(settings.telegram_owner_id),
           "JOELCLAW_FUNCTION_MODULES": "tests.functions"}
    result = CliRunner().invoke(cli, ["gateway", *args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_gateway_status_push_drain(tg, start_gateway) -> None:
    _, rt = start_gateway()
    status = run(rt.settings, "status")["result"]
    assert set(status["queue"]) >= {"p0", "p1", "p2", "p3", "inflight"}
    pushed = run(rt.settings, "push", "hello from the CLI")["result"]
    assert pushed["status"] == "queued"
    assert wait_replies(tg, 1) == ["hello from the CLI"]
    assert run(rt.settings, "drain")["result"]["requested"] is True
    status = run(rt.settings, "status")["result"]
    assert status["alive"] is True and status["queue"]["p2"] == 0, json.dumps(status)
