"""LLM spend: each call's model, tokens and cost on its step and per function and day; the
daily budget tells the owner once at 80 % and holds background LLM work at 100 % (visible in
`joelclaw explain`), while the owner's own agent turn still runs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from joelclaw import keys
from joelclaw.events.model import Event
from joelclaw.gateway import plugin as gateway_plugin
from joelclaw.gateway.agent import run_turn
from joelclaw.gateway.service import Gateway
from joelclaw.runtime import Runtime
from joelclaw.telemetry import plugin as telemetry_plugin
from tests.fakes.llm import FakeLLM
from tests.flow_helpers import finished
from tests.support import wait_for
from tests.telemetry.conftest import run_cli

# The fake answers "echo: <prompt>": 10 prompt tokens, one completion token per word.
# At 1000 / 2000 USD per million tokens, "hello there" costs (10*1000 + 3*2000) / 1e6.
CALL_COST = 0.016


def ask(rt: Runtime, prompt: str = "hello there") -> str:
    run_id = rt.send(Event(name="tel/llm", data={"prompt": prompt}))[0].runs[0]
    run = finished(rt, run_id)
    assert run.status == "completed", run.error
    return run_id


def warnings(rt: Runtime) -> list[dict]:
    bodies = [json.loads(raw) for raw in rt.redis.hvals(keys.GW_MSGS)]
    return [b for b in bodies if (b.get("meta") or {}).get("type") == "llm.budget.warning"]


@pytest.mark.timeout(90)
def test_a_call_in_a_step_records_model_tokens_and_cost_on_the_step_and_per_function(
    start: Callable[..., Runtime],
) -> None:
    rt = start()
    run_id = ask(rt)
    step = next(s for s in rt.runs.steps(run_id) if s.key == "ask")
    assert step.llm == {"calls": 1, "input_tokens": 10, "output_tokens": 3,
                           "cost_usd": CALL_COST, "models": ["test-model"]}
    ask(rt, "one two three four")  # 5 completion tokens: 0.01 + 0.01
    code, env = run_cli(rt.settings, "otel", "stats")
    assert code == 0, env
    spend = env["result"]["spend"]
    assert spend["functions"]["tel-llm"] == {"usd": pytest.approx(CALL_COST + 0.02),
                                             "calls": 2, "tokens": 28}
    [today] = spend["days"]
    assert today["usd"] == pytest.approx(CALL_COST + 0.02) and today["calls"] == 2
    assert today["models"] == {"test-model": pytest.approx(CALL_COST + 0.02)}

    def llm_events() -> list | None:
        _, env = run_cli(rt.settings, "otel", "list", "--source", "llm")
        return env["result"]["events"] if len(env["result"]["events"]) >= 2 else None

    events = wait_for(llm_events, 20, interval=0.3, message="the llm.chat events")
    assert {e["action"] for e in events} == {"llm.chat"}
    assert sorted(e["cost_usd"] for e in events) == pytest.approx([CALL_COST, 0.02])
    assert all(e["metadata"]["model"] == "test-model" and e["run_id"] for e in events)


@pytest.mark.timeout(120)
def test_the_budget_warns_once_at_80_percent_and_holds_background_work_but_not_the_owner(
    start: Callable[..., Runtime], llm: FakeLLM,
) -> None:
    rt = start(llm_daily_budget_usd=0.04)
    ask(rt)  # 40 %
    assert warnings(rt) == []
    ask(rt)  # 80 %: the owner is told
    [warning] = warnings(rt)
    assert "80 %" in warning["prompt"] and "$0.04" in warning["prompt"]
    ask(rt)  # 120 %: not told again
    assert len(warnings(rt)) == 1

    run_id = rt.send(Event(name="tel/background", data={}))[0].runs[0]

    def deferred() -> dict | None:
        _, env = run_cli(rt.settings, "explain", run_id)
        return env["result"] if "deferred" in env["result"]["reason"] else None

    explained = wait_for(deferred, 20, interval=0.2, message="the background run deferred")
    assert "daily LLM budget is spent" in explained["reason"]
    assert "the test digest waits for the next day" in explained["reason"]
    assert explained["status"] == "queued"
    step = next(s for s in rt.runs.steps(run_id) if s.key == "digest")
    assert step.attempts == 0, "waiting for the budget spends no attempt"
    assert "summarize the day" not in llm.prompts()

    outside = rt.send(Event(name="tel/background-outside", data={}))[0].runs[0]

    def deferred_run() -> dict | None:
        _, env = run_cli(rt.settings, "explain", outside)
        return env["result"] if env["result"]["reason"].startswith("deferred until") else None

    reason = wait_for(deferred_run, 20, interval=0.2, message="a function-level deferral")
    assert "the nightly summary waits for the next day" in reason["reason"]
    assert rt.runs.get(outside).attempts == 0  # type: ignore[union-attr]

    # The system's own background LLM work waits the same way: the daily digest.
    digest = rt.send(Event(name="memory/digest.requested", data={"date": "2026-01-02"}))[0].runs
    [digest_run] = digest

    def digest_deferred() -> dict | None:
        _, env = run_cli(rt.settings, "explain", digest_run)
        return env["result"] if "deferred" in env["result"]["reason"] else None

    held = wait_for(digest_deferred, 20, interval=0.2, message="the digest deferred")
    assert "the daily digest waits for the next day" in held["reason"]
    assert not any("2026-01-02" in p for p in llm.prompts())

    # The owner's own agent turn is not background work: it runs, and its spend is counted.
    owner_rt = Runtime(rt.settings, extensions=(gateway_plugin.install,
                                                telemetry_plugin.install))
    turn = run_turn(Gateway(owner_rt), 4242, "are you there")
    assert turn.ok and turn.text == "echo: are you there"
    code, env = run_cli(rt.settings, "otel", "stats")
    assert code == 0
    assert env["result"]["spend"]["functions"]["gateway-agent-turn"]["calls"] == 1
    assert env["result"]["spend"]["today_share"] > 1
    assert len(warnings(rt)) == 1
