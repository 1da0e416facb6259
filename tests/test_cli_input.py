"""`joelclaw send` refuses what the API refuses: an event over the one size limit (1 MiB, exit 2
with the same message as the API's 413) and non-standard JSON in -d."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from joelclaw.events.limits import MAX_EVENT_BYTES
from tests import test_cli
from tests.support import stored_events
from tests.test_cli import Invoke, failed, ok

cli_env, invoke = test_cli.cli_env, test_cli.invoke  # the CLI tests' fixtures


def test_send_refuses_an_event_over_the_limit(invoke: Invoke, tmp_path: Path,
                                              redis_url: str) -> None:
    data = tmp_path / "big.json"
    data.write_text(json.dumps({"pad": "x" * (5 * 1024 * 1024)}))
    result = failed(invoke("send", "app/big.thing", "-d", f"@{data}", "--json"),
                    "EVENT_TOO_LARGE", 2)
    assert f"{MAX_EVENT_BYTES:,} bytes (1 MiB)" in result["error"]["message"]
    assert "reference" in result["fix"]
    assert stored_events(redis.Redis.from_url(redis_url)) == 0


def test_send_takes_an_event_just_under_the_limit(invoke: Invoke, tmp_path: Path) -> None:
    data = tmp_path / "fits.json"
    data.write_text(json.dumps({"pad": "x" * (MAX_EVENT_BYTES - 200)}))
    sent = ok(invoke("send", "app/big.thing", "-d", f"@{data}", "--json"), "send")
    assert sent["status"] == "dispatched"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_send_refuses_non_standard_json(invoke: Invoke, redis_url: str, value: str) -> None:
    result = failed(invoke("send", "app/thing.happened", "-d", f'{{"x": {value}}}', "--json"),
                    "INVALID_JSON", 2)
    assert "not valid JSON" in result["error"]["message"]
    assert stored_events(redis.Redis.from_url(redis_url)) == 0
