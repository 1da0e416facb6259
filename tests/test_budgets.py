"""Effect budgets: a run (or a function's runs in a window) over its cap of owner messages,
external writes or LLM spend waits, nothing lost or sent, and the owner is asked once (allow
once, allow for the day, stop); the answer takes effect on the waiting runs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from joelclaw import keys
from joelclaw.bus.execution import StepNote, noting_step
from joelclaw.bus.flow import explain_run
from joelclaw.coordination import budgets
from joelclaw.coordination.budgets import Budgets
from joelclaw.errors import Defer
from joelclaw.events.model import Event
from joelclaw.events.payloads.telegram import callback_fields
from joelclaw.integrations import charges
from joelclaw.integrations.llm import LLMClient
from joelclaw.integrations.todoist import TodoistClient
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.llm import FakeLLM
from tests.fakes.todoist import FakeTodoist
from tests.support import events_named, wait_for

pytestmark = pytest.mark.timeout(150)
OWNER = 7
WINDOW = 1e9  # one window for the whole test, wherever the clock is (windows start at epoch)


def messages(rt: Runtime, type: str) -> list[dict[str, Any]]:
    """What reached the gateway's queue for the owner, of this type, oldest first."""
    bodies = [json.loads(raw) for raw in rt.redis.hvals(keys.GW_MSGS)]
    found = [b for b in bodies if (b.get("meta") or {}).get("type") == type]
    return sorted(found, key=lambda b: b.get("prompt") or b.get("text") or "")


# ---- in-process: the clients charge, the budget refuses -------------------------------------

@pytest.fixture
def budgeted(tmp_path, redis_url) -> Iterator[Runtime]:
    """A runtime whose process charges effects, with small caps for `fn` and `other`."""
    rt = Runtime(make_settings(
        tmp_path / "home", redis_url, telegram_owner_id=OWNER,
        llm_prices={"*": {"input": 1_000_000.0, "output": 0.0}},  # $10 per 10-token call
        effect_budgets={"fn": {"run": {"write": 1}, "function": {"llm_usd": 15.0}},
                        "other": {"window_seconds": WINDOW, "function": {"write": 2}}}))
    charges.set_budget(Budgets(rt))
    yield rt
    charges.set_budget(None)


def in_step(rt: Runtime, run_id: str, function_id: str = "fn"):
    return noting_step(StepNote(rt, run_id, function_id, "step"), {})


@pytest.fixture
def todo(todoist: FakeTodoist) -> Iterator[TodoistClient]:
    client = TodoistClient(todoist.token, todoist.base_url)
    yield client
    client.close()


def test_a_write_past_the_run_cap_waits_sends_nothing_and_asks_once(
        budgeted: Runtime, todo: TodoistClient, todoist: FakeTodoist) -> None:
    rt = budgeted
    with in_step(rt, "run-1"):
        todo.create_task("first")
        todo.list_tasks()  # a read is no write
        for _ in range(2):  # the step retried: still waiting, still one question
            with pytest.raises(Defer) as deferred:
                todo.create_task("second")
    assert [t["content"] for t in todoist.open_tasks()] == ["first"], "nothing sent past it"
    reason = str(deferred.value)
    assert "external writes budget of this run is spent (1 of 1)" in reason
    assert deferred.value.seconds >= budgets.ASK_WAIT_SECONDS
    [ask] = budgets.asks(rt)
    assert ask["runs"] == ["run-1"] and ask["kind"] == "write" and ask["scope"] == "run"
    assert f"ask {ask['id']}" in reason
    [question] = messages(rt, "budget.exceeded")
    data = [b[1] for row in question["meta"]["buttons"] for b in row]
    assert data == [f"bgt:{ask['id']}:once", f"bgt:{ask['id']}:day", f"bgt:{ask['id']}:stop"]
    with in_step(rt, "run-2"):  # another run has its own cap
        todo.create_task("other run")
    todo.create_task("outside any run")  # the owner's own: never counted
    assert len(todoist.open_tasks()) == 3


def test_allow_once_is_one_more_and_allow_for_the_day_lifts_the_cap(
        budgeted: Runtime, todo: TodoistClient, todoist: FakeTodoist) -> None:
    rt = budgeted
    with in_step(rt, "run-1"):
        todo.create_task("first")
        with pytest.raises(Defer):
            todo.create_task("second")
    [ask] = budgets.asks(rt)
    answered = budgets.answer(rt, ask["id"], "once", by="test")
    assert answered is not None and answered["runs"] == ["run-1"]
    assert budgets.answer(rt, ask["id"], "day") is None, "the first answer wins"
    with in_step(rt, "run-1"):
        todo.create_task("second")
        with pytest.raises(Defer):
            todo.create_task("third")
    [again] = budgets.asks(rt)
    assert again["id"] == ask["id"], "the same run and kind: the same question, asked again"
    budgets.answer(rt, again["id"], "day")
    with in_step(rt, "run-1"):
        for n in range(3):
            todo.create_task(f"more {n}")
    with in_step(rt, "run-9"):  # the day's allowance is the function's
        todo.create_task("a")
        todo.create_task("b")
    assert len(todoist.open_tasks()) == 7 and budgets.asks(rt) == []
    exceeded = events_named(rt.redis, "joelclaw/budget.exceeded")
    answered = [e["data"] for e in events_named(rt.redis, "joelclaw/budget.answered")]
    assert [e["data"]["ask_id"] for e in exceeded] == [ask["id"]] * 2
    assert exceeded[0]["data"]["run_id"] == "run-1" and exceeded[0]["data"]["cap"] == 1
    assert [(a["answer"], a["by"], a["runs"]) for a in answered] == [
        ("once", "test", ["run-1"]), ("day", "owner", ["run-1"])]


def test_a_function_window_cap_holds_all_its_runs_on_one_question(
        budgeted: Runtime, todo: TodoistClient, todoist: FakeTodoist) -> None:
    rt = budgeted
    for run_id in ("run-a", "run-b"):
        with in_step(rt, run_id, "other"):
            todo.create_task(run_id)
    for run_id in ("run-c", "run-d"):
        with in_step(rt, run_id, "other"), pytest.raises(Defer) as deferred:
            todo.create_task(run_id)
    reason = str(deferred.value)
    assert "external writes budget of other per " in reason and "spent (2 of 2)" in reason
    assert deferred.value.seconds <= WINDOW + 1, "the next window lets them go on"
    [ask] = budgets.asks(rt)
    assert ask["scope"] == "function" and ask["runs"] == ["run-c", "run-d"]
    assert len(messages(rt, "budget.exceeded")) == 1
    assert len(todoist.open_tasks()) == 2


def test_llm_spend_is_checked_before_a_call_and_added_after_it(
        budgeted: Runtime, llm: FakeLLM) -> None:
    rt = budgeted
    client = LLMClient(llm.base_url, llm.token, "m", max_attempts=1)
    try:
        with in_step(rt, "run-1"):
            client.complete([{"role": "user", "content": "one"}])  # $10
            client.complete([{"role": "user", "content": "two"}])  # $20: past $15 after it
            with pytest.raises(Defer, match=r"LLM spend \(USD\) budget of fn per 1 h 00 m is spent "
                                            r"\(\$20.00 of \$15.00\)"):
                client.complete([{"role": "user", "content": "three"}])
    finally:
        client.close()
    assert len(llm.completions()) == 2


# ---- a real worker: a function looping on notify stops at its budget and asks ---------------

@pytest.fixture
def loop_settings(tmp_path, redis_url):
    return make_settings(tmp_path / "home", redis_url, telegram_owner_id=OWNER,
                         function_modules=["tests.budget_functions", "tasks.system"],
                         effect_budgets={"t-loop-notify": {"run": {"notify": 3}}})


@pytest.fixture
def press(loop_settings) -> Callable[[Runtime, str], None]:
    """The owner presses a button of a budget question (as the gateway reports it)."""
    presses = iter(range(1, 1000))

    def do(rt: Runtime, data: str) -> None:
        update = next(presses)
        fields = callback_fields(update, {"id": f"cb{update}", "data": data,
                                          "from": {"id": OWNER},
                                          "message": {"message_id": 1, "chat": {"id": OWNER}}})
        rt.send([Event(name="telegram/callback.received", id=f"tg-press-{update}",
                       data=fields, source={"via": "gateway", "provider": "telegram-polling"})])

    return do


def waiting_at_budget(rt: Runtime, run_id: str) -> Callable[[], dict | None]:
    def check() -> dict | None:
        explained = explain_run(rt, run_id)
        return explained if "budget of this run is spent" in explained["reason"] else None

    return check


def test_a_function_looping_on_notify_stops_at_its_budget_asks_and_goes_on_when_allowed(
        loop_settings, worker_factory, press) -> None:
    rt = Runtime(loop_settings)
    worker_factory(settings_override=loop_settings)
    run_id = rt.send([Event(name="test/loop.notify", data={"n": 6, "tag": "a"})])[0].runs[0]
    explained = wait_for(waiting_at_budget(rt, run_id), timeout=60,
                         message="the run waits at its budget")
    assert "owner messages budget of this run is spent (3 of 3)" in explained["reason"]
    assert len(messages(rt, "loop")) == 3, "nothing past the cap reached the owner"
    [ask] = budgets.asks(rt)
    [question] = messages(rt, "budget.exceeded")
    assert "t-loop-notify" in question["prompt"] and ask["runs"] == [run_id]

    press(rt, f"bgt:{ask['id']}:once")
    wait_for(lambda: len(messages(rt, "loop")) == 4 and budgets.asks(rt), timeout=60,
             message="one more message, then the run asks again")
    press(rt, f"bgt:{ask['id']}:day")
    run = wait_for(lambda: (r := rt.runs.get(run_id)) and r.status == "completed" and r,
                   timeout=60, message="the run completes once allowed for the day")
    assert run.output == 6 and len(messages(rt, "loop")) == 6
    assert len(messages(rt, "budget.exceeded")) == 1, "asked once per question, by idem key"


def test_stop_cancels_the_run_waiting_at_its_budget(loop_settings, worker_factory,
                                                    press) -> None:
    rt = Runtime(loop_settings)
    worker_factory(settings_override=loop_settings)
    run_id = rt.send([Event(name="test/loop.notify", data={"n": 5, "tag": "b"})])[0].runs[0]
    wait_for(waiting_at_budget(rt, run_id), timeout=60, message="the run waits at its budget")
    [ask] = budgets.asks(rt)
    press(rt, f"bgt:{ask['id']}:stop")
    run = wait_for(lambda: (r := rt.runs.get(run_id)) and r.status == "cancelled" and r,
                   timeout=60, message="the run is cancelled")
    assert run is not None and len(messages(rt, "loop")) == 3 and budgets.asks(rt) == []


def test_the_command_line_lists_and_answers_the_questions(
        budgeted: Runtime, todo: TodoistClient) -> None:
    from click.testing import CliRunner

    from joelclaw.cli import cli

    rt = budgeted
    with in_step(rt, "run-1"):
        todo.create_task("first")
        with pytest.raises(Defer):
            todo.create_task("second")
    env = {"JOELCLAW_REDIS_URL": rt.settings.redis_url or "",
           "JOELCLAW_HOME": str(rt.settings.home)}
    runner = CliRunner()
    listed = json.loads(runner.invoke(cli, ["budgets", "list", "--json"], env=env).stdout)
    [ask] = listed["result"]["asks"]
    assert ask["runs"] == ["run-1"] and ask["kind"] == "write"
    status = runner.invoke(cli, ["status", "--text"], env=env).stdout
    assert "1 question(s) unanswered, 1 run(s) wait: fn write" in status
    from webhooks import create_app

    web = create_app(rt.settings.with_overrides(web_open_on_loopback=True)).test_client()
    page = web.get("/").get_data(as_text=True)
    assert f'data-budget-ask="{ask["id"]}"' in page and "fn budget" in page
    done = runner.invoke(cli, ["budgets", "answer", ask["id"], "once", "--json"], env=env)
    assert done.exit_code == 0 and json.loads(done.stdout)["result"]["by"] == "cli"
    assert rt.redis.hget(keys.budget_run("run-1"), "grant:write") == b"1"
    again = runner.invoke(cli, ["budgets", "answer", ask["id"], "stop", "--json"], env=env)
    assert again.exit_code == 1
    assert json.loads(again.stdout)["error"]["code"] == "BUDGET_ASK_NOT_FOUND"
    assert "data-budget-ask" not in web.get("/").get_data(as_text=True)


def test_a_pressed_budget_button_says_what_it_did() -> None:
    from joelclaw.gateway.handlers import callback_label

    labels = [callback_label(data) for row in budgets.buttons("b123") for _, data in row]
    assert labels == ["▶️ Allowed once", "📅 Allowed for today", "⏹ Stopped"]
