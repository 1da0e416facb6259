"""A write the provider's open breaker refuses is never sent, so it spends nothing of the
function's write budget: a step deferred by the breaker and retried while it stays open is not
later held by the budget, nor is the owner asked about writes that never happened; real Redis
and the fake Todoist."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from joelclaw import keys
from joelclaw.bus.execution import StepNote, noting_step
from joelclaw.coordination.breakers import Breakers
from joelclaw.coordination.budgets import Budgets
from joelclaw.errors import Defer
from joelclaw.integrations import breaker, charges
from joelclaw.integrations.telegram import TelegramClient
from joelclaw.integrations.todoist import TodoistClient
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist


@pytest.fixture
def rt(tmp_path, redis_url) -> Iterator[Runtime]:
    rt = Runtime(make_settings(tmp_path / "home", redis_url, telegram_owner_id=7,
                               breaker_open_seconds=60,
                               breaker_providers={"todoist": {"failures": 2},
                                                  "telegram": {"failures": 2}},
                               effect_budgets={"fn": {"run": {"write": 1, "notify": 1}}}))
    breaker.set_guard(Breakers(rt))
    charges.set_budget(Budgets(rt))
    yield rt
    charges.set_budget(None)
    breaker.set_guard(None)


def test_writes_the_open_breaker_refuses_are_not_charged(rt: Runtime,
                                                         todoist: FakeTodoist) -> None:
    client = TodoistClient(todoist.token, todoist.base_url, sleep=lambda _s: None)
    todoist.fail_next(503, {"error": "unavailable"}, times=6)  # two calls, three attempts each
    for _ in range(2):  # outside a run: opens the breaker, charges nothing
        with pytest.raises(Exception, match="503"):
            client.create_task("trip")
    with noting_step(StepNote(rt, "run-1", "fn", "step"), {}):
        for _ in range(3):  # the step, retried while the breaker stays open
            with pytest.raises(Defer) as deferred:
                client.create_task("later")
            assert "breaker" in str(deferred.value), str(deferred.value)
    assert rt.redis.hget(keys.budget_run("run-1"), "write") is None  # nothing was sent
    assert rt.redis.hlen(keys.BUDGET_ASKS) == 0  # nor the owner asked about it
    client.close()


def test_messages_the_open_breaker_refuses_are_not_charged(rt: Runtime, tg: FakeTelegram) -> None:
    bot = TelegramClient(tg.token, tg.base_url, max_attempts=1, min_interval_per_chat=0)
    tg.fail_next("sendMessage", 500, "down", times=2)
    for _ in range(2):  # outside a run: opens the breaker, charges nothing
        with pytest.raises(Exception, match="500"):
            bot.send_message(1, "trip")
    with noting_step(StepNote(rt, "run-2", "fn", "step"), {}):
        for _ in range(3):
            with pytest.raises(Defer) as deferred:
                bot.send_message(1, "later")
            assert "breaker" in str(deferred.value), str(deferred.value)
    assert rt.redis.hget(keys.budget_run("run-2"), "notify") is None
    assert rt.redis.hlen(keys.BUDGET_ASKS) == 0
    bot.close()
