"""Secrets in event data stay out of every view and log, while functions get the event intact.

Real Redis, a real worker, the real web app and the real CLI: an event carrying a password, a
token, an API key, an authorization header, a client secret, a Telegram-token-shaped value under
an innocent key and other provider-shaped keys goes through `POST /api/events`; its run, its
event, its system-log line and the worker's log are then read back through every view."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from joelclaw.cli import cli
from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.conftest import TEST_MODULES
from tests.functions_secrets import SEEN_KEY
from tests.support import WorkerProcess, env_for, wait_for
from tests.webhooks.webhook_support import bearer, configured
from webhooks import create_app

pytestmark = pytest.mark.timeout(120)
CONFIGURED = "configured-todoist-secret-0123"
DATA: dict[str, Any] = {
    "password": "hunter2-correct-horse",
    "token": "plain-opaque-token-7f3a9c",
    "api_key": "opaque-api-key-value-4d2e",
    "authorization": "Bearer opaque-bearer-credential-91b0",
    "client_secret": "opaque-client-secret-5c8d",
    "note": "my bot is 123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0 today",
    "nested": {"headers": {"X-Api-Key": "nested-header-key-2b6f", "accept": "json"},
               "list": ["ghp_0123456789abcdefghijklmnopqrstuvwxyz",
                        "xoxb-123456789012-abcdefghijklmnop"]},
    "ci": "deploy with AKIAIOSFODNN7EXAMPLE from https://ci:ci-pass-6a1e@ci.example.test/x",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
    "comment": f"the todoist token is {CONFIGURED} apparently",
    "max_tokens": 512, "visible": "nothing secret here",
}
SECRETS = ["hunter2-correct-horse", "plain-opaque-token-7f3a9c", "opaque-api-key-value-4d2e",
           "opaque-bearer-credential-91b0", "opaque-client-secret-5c8d",
           "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0", "nested-header-key-2b6f",
           "ghp_0123456789abcdefghijklmnopqrstuvwxyz", "xoxb-123456789012-abcdefghijklmnop",
           "AKIAIOSFODNN7EXAMPLE", "ci-pass-6a1e", "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9P",
           CONFIGURED]


def assert_clean(text: str, where: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert leaked == [], f"{where} shows {leaked}"
    assert "[redacted]" in text, where


@pytest.fixture
def secret_settings(settings: Settings) -> Settings:
    return configured(settings, todoist_token=CONFIGURED,
                      function_modules=[*TEST_MODULES, "tests.functions_secrets"])


@pytest.fixture
def client(secret_settings: Settings) -> FlaskClient:
    return create_app(secret_settings).test_client()


def cli_json(settings: Settings, *args: str) -> str:
    env = {k: v for k, v in env_for(settings).items() if k.startswith("JOELCLAW_")}
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def cli_text(settings: Settings, *args: str) -> str:
    env = {k: v for k, v in env_for(settings).items() if k.startswith("JOELCLAW_")}
    result = CliRunner().invoke(cli, [*args, "--text"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def send(client: FlaskClient, name: str, data: dict[str, Any]) -> tuple[str, str]:
    body = json.dumps({"name": name, "data": data})  # not json=: that uses the app's encoder
    response = client.post("/api/events", data=body, headers=bearer())
    assert response.status_code == 200, response.get_json()
    [result] = response.get_json()["results"]
    assert_clean(response.get_data(as_text=True) + "[redacted]", "the send answer")
    return result["id"], result["runs"][0]


def test_every_view_and_log_redacts_while_the_function_gets_the_event_intact(
    client: FlaskClient, secret_settings: Settings,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    worker = worker_factory(settings_override=secret_settings)
    rt = Runtime(secret_settings)
    event_id, run_id = send(client, "test/secrets", DATA)
    wait_for(lambda: rt.runs.status(run_id) == "completed", timeout=30,
             message=f"t-secrets run (worker log {worker.log_path})")

    [seen] = [json.loads(x) for x in rt.redis.lrange(SEEN_KEY, 0, -1)]
    assert seen == DATA  # the function got the stored event as sent

    views = {
        "GET /api/runs/<id>": client.get(f"/api/runs/{run_id}", headers=bearer()),
        "GET /api/events/<id>": client.get(f"/api/events/{event_id}", headers=bearer()),
        "GET /api/events": client.get("/api/events", headers=bearer()),
    }
    for where, response in views.items():
        assert response.status_code == 200
        assert_clean(response.get_data(as_text=True), where)
    trace = views["GET /api/runs/<id>"].get_json()["run"]
    assert trace["event"]["data"]["password"] == "[redacted]"
    assert trace["event"]["data"]["max_tokens"] == 512
    assert trace["event"]["data"]["visible"] == "nothing secret here"
    assert trace["output"]["echo"]["note"] == "my bot is [redacted] today"
    for args in (("run", run_id), ("event", event_id), ("events",)):
        assert_clean(cli_json(secret_settings, *args), f"joelclaw {' '.join(args)} --json")
        assert_clean(cli_text(secret_settings, *args), f"joelclaw {' '.join(args)} --text")

    log_line = "handling event data"
    wait_for(lambda: log_line in worker.output(), timeout=10, message="the worker's log line")
    assert_clean(worker.output(), "the worker's log")


def test_a_failure_message_carrying_a_secret_is_redacted_in_views_and_logs(
    client: FlaskClient, secret_settings: Settings,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    worker = worker_factory(settings_override=secret_settings)
    rt = Runtime(secret_settings)
    _, run_id = send(client, "test/secrets-fail", DATA)
    wait_for(lambda: rt.runs.status(run_id) == "failed", timeout=30,
             message=f"t-secrets-fail run (worker log {worker.log_path})")
    text = client.get(f"/api/runs/{run_id}", headers=bearer()).get_data(as_text=True)
    assert "upstream refused token" in text
    assert_clean(text, "the failed run's trace")
    assert_clean(cli_json(secret_settings, "run", run_id), "joelclaw run --json")
    assert_clean(cli_json(secret_settings, "runs", "--status", "failed") + "[redacted]",
                 "joelclaw runs")


def test_the_system_log_is_redacted(client: FlaskClient, secret_settings: Settings,
                                    worker_factory: Callable[..., WorkerProcess]) -> None:
    worker_factory(settings_override=secret_settings)
    rt = Runtime(secret_settings)
    entry = {"action": "login", "tool": "cli", "detail": f"used {DATA['note']}", **DATA}
    _, run_id = send(client, "system/log.written", entry)
    wait_for(lambda: rt.runs.status(run_id) == "completed", timeout=30, message="system-logger")
    path = Path(secret_settings.home_dir) / "logs" / "system.jsonl"
    [line] = path.read_text().splitlines()
    assert_clean(line, "logs/system.jsonl")
    written = json.loads(line)
    assert written["action"] == "login" and written["token"] == "[redacted]"
    assert written["detail"] == "used my bot is [redacted] today"
