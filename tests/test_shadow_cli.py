"""`joelclaw shadow`, `cassettes`, `cassette` and the effect column of `joelclaw run`, against
real Redis and a real worker: JSON when piped, readable text on request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tests.shadow_functions as fns
from joelclaw.cli import cli
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import TEST_MODULES, make_settings
from tests.flow_helpers import finished
from tests.support import env_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return make_settings(tmp_path / "home", redis_url,
                         function_modules=[*TEST_MODULES, "tests.shadow_functions"])


def cli_run(settings: Settings, *args: str) -> Any:
    env = {k: v for k, v in env_for(settings).items() if k.startswith("JOELCLAW_")}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


def test_shadow_from_the_command_line(settings: Settings, runtime: Runtime, worker: Any,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    run_ids = [runtime.send(Event(name="shadow/greet", data={"name": n}))[0].runs[0]
               for n in ("ada", "grace")]
    for run_id in run_ids:
        assert finished(runtime, run_id).status == "completed"

    trace = cli_run(settings, "run", run_ids[0], "--text").output
    assert "EFFECT" in trace and "pure" in trace and "write" in trace

    same = json.loads(cli_run(settings, "shadow", run_ids[0], "--json").stdout)
    assert same["ok"] and same["result"]["totals"] == {
        "runs": 1, "differ": 0, "errors": 0, "same": 1, "provider_calls": 0, "held": 0,
        "cost_usd": 0}

    monkeypatch.setattr(fns, "GREETING", "good morning")
    text = cli_run(settings, "shadow", "--function", "shadow-greet", "--since", "1h",
                   "--text")
    assert text.exit_code == 0, text.output
    assert "2 run(s), 2 differ" in text.output and "DIFFERS" in text.output
    assert '+good morning, ada' in text.output and '-hello, ada' in text.output

    listed = json.loads(cli_run(settings, "shadow", "--json").stdout)["result"]
    assert [r["totals"]["differ"] for r in listed] == [2, 0]  # newest first
    shown = json.loads(cli_run(settings, "shadow", "--show", listed[0]["id"], "--json").stdout)
    [greet] = [s for s in shown["result"]["runs"][0]["steps"] if s["key"] == "greet"]
    assert greet["mode"] == "re-executed" and not greet["same"]
    assert "good morning" in greet["diff"]

    missing = cli_run(settings, "shadow", "no-such-run", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"]["code"] == "NOT_FOUND"
    bare = cli_run(settings, "shadow", "--since", "1h", "--json")  # needs a run or a function
    assert bare.exit_code == 2 and json.loads(bare.stdout)["error"]["code"] == "USAGE_ERROR"
