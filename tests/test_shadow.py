"""Shadow replay and LLM cassettes against real Redis, a real worker and the fake providers:
runs are recorded (every client call a cassette, each model call with its tokens and cost),
then replayed on changed code with nothing sent to Telegram or Todoist, and with no model call
at all unless the shadow is told to re-ask."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import tests.shadow_functions as fns
from joelclaw.cassettes import CassetteStore
from joelclaw.cli import cli
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.shadow import Options, ReportStore, shadow_many, shadow_run
from tests.conftest import TEST_MODULES, make_settings
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.flow_helpers import finished
from tests.support import WorkerProcess, env_for

RUNS = 20
LEAKED = "ghp_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"  # a GitHub token shape
PRICES = {"test-model": {"input": 1000.0, "output": 2000.0}}  # USD per million tokens


def shadow_settings(tmp_path: Path, redis_url: str, llm: FakeLLM, todoist: FakeTodoist,
                    tg: FakeTelegram) -> Settings:
    return make_settings(
        tmp_path / "home", redis_url, function_modules=[*TEST_MODULES, "tests.shadow_functions"],
        llm_api_url=llm.base_url, llm_api_key="sk-test", llm_model="test-model",
        llm_prices=PRICES, todoist_token="todoist-test-token", todoist_api_url=todoist.base_url,
        telegram_token=tg.token, telegram_api_url=tg.base_url)


@pytest.fixture
def recorded(tmp_path: Path, redis_url: str, llm: FakeLLM, todoist: FakeTodoist,
             tg: FakeTelegram, worker_factory: Callable[..., WorkerProcess]
             ) -> Iterator[tuple[Runtime, list[str]]]:
    """Twenty triage runs, recorded by a real worker against the fakes."""
    settings = shadow_settings(tmp_path, redis_url, llm, todoist, tg)
    worker_factory(settings_override=settings)
    rt = Runtime(settings)
    todoist.add_project("inbox", "Inbox")
    run_ids = []
    for i in range(RUNS):
        todoist.add_task(f"t{i}", f"pay invoice number {i}", "inbox")
        run_ids += rt.send(Event(name="shadow/triage", data={"task_id": f"t{i}"}))[0].runs
    for run_id in run_ids:
        run = finished(rt, run_id, timeout=60)
        assert run.status == "completed", run.error
    yield rt, run_ids


def cli_json(settings: Settings, *args: str) -> Any:
    env = {k: v for k, v in env_for(settings).items() if k.startswith("JOELCLAW_")}
    done = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)["result"]


def outside_calls(llm: FakeLLM, todoist: FakeTodoist, tg: FakeTelegram) -> dict[str, int]:
    return {"llm": len(llm.completions()), "todoist": len(todoist.calls()),
            "telegram": len(tg.requests)}


@pytest.mark.timeout(180)
def test_every_llm_call_is_a_cassette_with_model_tokens_and_cost_linked_to_its_step(
    recorded: tuple[Runtime, list[str]], todoist: FakeTodoist,
) -> None:
    rt, run_ids = recorded
    store = CassetteStore(rt.redis)
    tape = store.of_run(run_ids[0])
    chat = tape[("summarize", 1)]
    assert (chat.kind, chat.effect, chat.model, chat.function) == (
        "chat", "read", "test-model", "shadow-triage")
    assert chat.run_id == run_ids[0] and chat.input_tokens == 10 and chat.output_tokens > 0
    assert chat.cost_usd == pytest.approx((10 * 1000 + chat.output_tokens * 2000) / 1e6)
    assert chat.prompt() == f"{fns.PROMPT} pay invoice number 0"
    assert chat.text() == f"echo: {fns.PROMPT} pay invoice number 0"
    # The other clients' calls are recorded too, each with its effect; never a credential.
    assert tape[("fetch", 1)].effect == "read" and tape[("file", 1)].effect == "write"
    assert tape[("tell", 1)].effect == "notify"
    assert "TEST-token" not in tape[("tell", 1)].path
    assert len([c for c in store.recent(100) if c.function == "shadow-triage"]) == RUNS
    steps = {s.key: s.effect for s in rt.runs.steps(run_ids[0])}
    assert steps == {"fetch": "read", "summarize": "read", "shout": "pure", "file": "write",
                     "note": "read", "legacy-comment": "write", "tell": "notify"}

    # A secret inside what was sent or answered is kept (a shadow replays it) but never shown.
    todoist.add_task("t-secret", f"rotate the key {LEAKED}", "inbox")
    leaky = rt.send(Event(name="shadow/triage", data={"task_id": "t-secret"}))[0].runs[0]
    assert finished(rt, leaky, timeout=60).status == "completed"
    listed = cli_json(rt.settings, "cassettes", "--run", leaky)
    assert [(c["step"], c["seq"]) for c in listed][:2] == [("fetch", 1), ("summarize", 1)]
    chat = next(c for c in listed if c["kind"] == "chat")
    shown = cli_json(rt.settings, "cassette", chat["id"])
    assert shown["model"] == "test-model" and shown["run_id"] == leaky
    assert "rotate the key" in json.dumps(shown) and LEAKED not in json.dumps(shown)
    assert LEAKED in (store.get(chat["id"]).prompt() or "")  # type: ignore[union-attr]


@pytest.mark.timeout(240)
def test_a_shadow_replay_after_a_prompt_change_sends_nothing_and_reports_the_differences(
    recorded: tuple[Runtime, list[str]], llm: FakeLLM, todoist: FakeTodoist, tg: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt, run_ids = recorded
    monkeypatch.setattr(fns, "PROMPT", "Ask one question about this task:")
    before = outside_calls(llm, todoist, tg)

    # Re-asking the model: the only calls that leave are the 20 model calls asked for.
    asked = shadow_many(rt, function="shadow-triage", since=3600, limit=100,
                        options=Options(reask=True))
    after = outside_calls(llm, todoist, tg)
    assert after == {**before, "llm": before["llm"] + RUNS}
    # Every recorded run, oldest first (runs created in the same millisecond have no order)
    assert sorted(r.run_id for r in asked.runs) == sorted(run_ids)
    created = [rt.runs.get(r.run_id).created_at for r in asked.runs]  # type: ignore[union-attr]
    assert all(later >= earlier - 0.001 for earlier, later in pairwise(created))
    assert asked.totals()["differ"] == RUNS and asked.totals()["provider_calls"] == RUNS
    first = next(r for r in asked.runs if r.run_id == run_ids[0])
    outcomes = {s.key: s for s in first.steps}
    assert {k: (s.mode, s.same) for k, s in outcomes.items()} == {
        "fetch": ("re-executed", True), "summarize": ("re-executed", False),
        "shout": ("re-executed", False), "file": ("replayed", True),
        "note": ("re-executed", True), "legacy-comment": ("replayed", True),
        "tell": ("replayed", True)}
    assert "+echo: Ask one question about this task: pay invoice number 0" in (
        outcomes["summarize"].diff or "")
    assert not first.output_same and "Ask one question" in (first.output_diff or "")
    [call] = first.model_calls
    assert call.mode == "re-asked" and call.request_changed and not call.same
    assert call.cost_usd > 0 and first.cost_usd == call.cost_usd
    assert "-echo: Summarize" in (call.diff or "")
    # The read step that writes was answered from its recording and named.
    assert any("note: a write call (todoist POST comments)" in u for u in first.undeclared)
    assert {h.what for h in first.held if h.outcome == "replayed"} == {"todoist POST comments"}
    assert ReportStore(rt.redis).get(asked.id) is not None

    # Replaying the cassettes instead: no call leaves at all, and the changed prompt is named.
    replayed = shadow_many(rt, run_ids=run_ids, options=Options())
    assert outside_calls(llm, todoist, tg) == after
    assert replayed.totals()["provider_calls"] == 0 and replayed.totals()["cost_usd"] == 0
    assert replayed.totals()["same"] == RUNS
    assert all(r.model_calls[0].mode == "replayed" and r.model_calls[0].request_changed
               for r in replayed.runs)


@pytest.mark.timeout(180)
def test_a_cassette_replay_of_unchanged_code_makes_no_call_and_finds_no_difference(
    recorded: tuple[Runtime, list[str]], llm: FakeLLM, todoist: FakeTodoist, tg: FakeTelegram,
) -> None:
    rt, run_ids = recorded
    before = outside_calls(llm, todoist, tg)
    report = shadow_run(rt, run_ids[3])
    assert outside_calls(llm, todoist, tg) == before
    assert report.status == "same" and report.output_same and report.error is None
    assert report.model_calls[0].request_changed is False
    assert report.shadow_output == rt.runs.get(run_ids[3]).output  # type: ignore[union-attr]


@pytest.mark.timeout(180)
def test_a_call_with_no_recording_is_refused_not_sent(
    recorded: tuple[Runtime, list[str]], llm: FakeLLM, todoist: FakeTodoist, tg: FakeTelegram,
) -> None:
    """A run whose cassettes expired: its read steps cannot reach Todoist or the model."""
    rt, run_ids = recorded
    rt.redis.delete(f"jc:cassettes:run:{run_ids[5]}")
    before = outside_calls(llm, todoist, tg)
    report = shadow_run(rt, run_ids[5])
    assert outside_calls(llm, todoist, tg) == before
    assert report.status == "error" and "no recording" in (report.error or "")
    assert [h.outcome for h in report.held] == ["refused"]
    allowed = shadow_run(rt, run_ids[5], Options(allow=["todoist"], reask=True))
    # The task is read from Todoist and the model re-asked; the read step that writes is still
    # refused: a write is never allowed out.
    assert outside_calls(llm, todoist, tg) == {**before, "todoist": before["todoist"] + 1,
                                               "llm": before["llm"] + 1}
    assert allowed.provider_calls == 2 and "POST comments" in (allowed.error or "")
