"""Provider circuit breakers (first cut: the LLM and Telegram clients): a failing provider opens
one shared breaker; runs about to call it wait without spending attempts, with the reason in
explain; the owner is told once; everything completes when it recovers."""

from __future__ import annotations

import json
import time

import pytest

from joelclaw import keys
from joelclaw.bus.execution import StepNote, noting_step
from joelclaw.bus.flow import explain_run
from joelclaw.coordination.breakers import Breakers, states
from joelclaw.errors import Defer
from joelclaw.events.model import Event
from joelclaw.integrations import breaker
from joelclaw.integrations.telegram import TelegramClient
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.llm import FakeLLM, echo
from tests.fakes.telegram import FakeTelegram
from tests.support import wait_for

pytestmark = pytest.mark.timeout(150)


def notices(rt: Runtime, service: str) -> list[dict]:
    bodies = [json.loads(raw) for raw in rt.redis.hvals(keys.GW_MSGS)]
    return [b for b in bodies if (b.get("meta") or {}).get("type") == f"breaker.{service}"]


@pytest.fixture
def guarded_rt(tmp_path, redis_url):
    rt = Runtime(make_settings(tmp_path / "home", redis_url, breaker_failures=3,
                               breaker_open_seconds=60, telegram_owner_id=7))
    guard = Breakers(rt)
    breaker.set_guard(guard)
    yield rt, guard
    breaker.set_guard(None)


def in_step(rt: Runtime, run_id: str = "run-x"):
    return noting_step(StepNote(rt, run_id, "fn", "step"), {})


def test_failures_in_a_row_open_one_shared_breaker_and_a_success_closes_it(
        guarded_rt, tg: FakeTelegram) -> None:
    rt, _ = guarded_rt
    client = TelegramClient(tg.token, tg.base_url, max_attempts=1, min_interval_per_chat=0)
    tg.fail_next("sendMessage", 502, "Bad Gateway", times=3)
    tg.fail_next("sendMessage", 400, "Bad Request: chat not found")  # the caller's problem
    for _ in range(3):
        with pytest.raises(Exception, match="502"):
            client.send_message(1, "hi")
    found = states(rt)["telegram"]
    assert found["state"] == "open" and found["failures"] == 3 and "502" in found["last_error"]
    assert len(notices(rt, "telegram")) == 1
    with in_step(rt, "run-a"), pytest.raises(Defer) as deferred:
        client.send_message(1, "from a run")
    assert "telegram is failing since" in str(deferred.value)
    assert deferred.value.seconds > 50
    assert states(rt)["telegram"]["waiting"] == ["run-a"]
    with pytest.raises(Exception, match="chat not found"):  # outside a run: never refused
        client.send_message(1, "the owner's own")
    assert states(rt)["telegram"]["state"] == "closed", "a 4xx answer means it is up"
    assert states(rt)["telegram"]["waiting"] == []
    client.close()


def test_a_429_retry_after_keeps_it_open_at_least_that_long(guarded_rt,
                                                            tg: FakeTelegram) -> None:
    rt, _ = guarded_rt
    client = TelegramClient(tg.token, tg.base_url, max_attempts=1, min_interval_per_chat=0)
    tg.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 900", retry_after=900)
    for expected in ("500", "500", "429"):
        with pytest.raises(Exception, match=expected):
            client.send_message(1, "hi")
    found = states(rt)["telegram"]
    assert found["state"] == "open" and found["retry_at"] - time.time() > 800
    client.close()


@pytest.fixture
def breaker_settings(tmp_path, redis_url, llm: FakeLLM):
    return make_settings(tmp_path / "home", redis_url,
                         function_modules=["tests.breaker_functions"],
                         llm_api_url=llm.base_url, llm_api_key="sk-test", llm_model="m",
                         telegram_owner_id=7, breaker_failures=3, breaker_open_seconds=1.0,
                         breaker_max_open_seconds=2.0, retry_base_seconds=0.2,
                         retry_max_seconds=0.5)


def test_an_llm_outage_defers_runs_tells_the_owner_once_and_they_complete_after_it(
        breaker_settings, worker_factory, llm: FakeLLM) -> None:
    rt = Runtime(breaker_settings)
    llm.fail_next(429, {"error": {"message": "slow down"}})
    llm.fail_next(500, {"error": {"message": "overloaded"}}, times=4)
    worker_factory(settings_override=breaker_settings)
    run_ids = [rt.send([Event(name="test/llm.ask", data={"n": n})])[0].runs[0]
               for n in range(4)]

    def a_deferred_run() -> dict | None:
        for run_id in run_ids:
            explained = explain_run(rt, run_id)
            if "breaker is open" in explained["reason"]:
                return explained
        return None

    explained = wait_for(a_deferred_run, timeout=60, interval=0.1,
                         message="a run waiting on the open breaker")
    assert "llm is failing since" in explained["reason"]
    assert explained["reason"].startswith("deferred in step 'ask'")

    def all_done() -> list:
        runs = [rt.runs.get(r) for r in run_ids]
        return runs if all(r and r.status in ("completed", "failed") for r in runs) else []

    runs = wait_for(all_done, timeout=90, message="every run ends after the recovery")
    assert [r.status for r in runs] == ["completed"] * 4
    assert sorted(r.output for r in runs) == [echo([{"role": "user", "content": f"q{n}"}])
                                              for n in range(4)]
    assert len(notices(rt, "llm")) == 1, "one notice per outage, not per run"
    found = states(rt)["llm"]
    assert found["state"] == "closed" and found["waiting"] == []
    # each call to the provider was one attempt (five failures, four successes); every
    # deferral while the breaker was open spent none
    spent = sum(next(s for s in rt.runs.steps(r.id) if s["key"] == "ask")["attempts"]
                for r in runs)
    assert len(llm.completions()) == 4 + 5 and spent == 4 + 5


def test_health_and_status_show_an_open_breaker(guarded_rt, tg: FakeTelegram) -> None:
    from joelclaw import health

    rt, _ = guarded_rt
    assert health.check(rt)["components"]["providers"]["ok"] is True
    client = TelegramClient(tg.token, tg.base_url, max_attempts=1, min_interval_per_chat=0)
    tg.fail_next("sendMessage", 503, "Service Unavailable", times=3)
    for _ in range(3):
        with pytest.raises(Exception, match="503"):
            client.send_message(1, "hi")
    client.close()
    report = health.check(rt)
    providers = report["components"]["providers"]
    assert providers["open"] == ["telegram"] and "providers" in report["degraded"]
    assert providers["breakers"]["telegram"]["since"] is not None
    assert "providers" not in report["failing"], "an open breaker degrades, never downs"
    from click.testing import CliRunner

    from joelclaw.cli import cli

    env = {"JOELCLAW_REDIS_URL": rt.settings.redis_url or "",
           "JOELCLAW_HOME": str(rt.settings.home)}
    text = CliRunner().invoke(cli, ["status", "--text"], env=env).stdout
    assert "telegram breaker" in text and "open since" in text and "503" in text


def test_the_dashboard_overview_shows_an_open_breaker(guarded_rt, tg: FakeTelegram) -> None:
    from webhooks import create_app

    rt, _ = guarded_rt
    client = create_app(rt.settings.with_overrides(web_open_on_loopback=True)).test_client()
    assert "data-breaker" not in client.get("/").get_data(as_text=True)
    bot = TelegramClient(tg.token, tg.base_url, max_attempts=1, min_interval_per_chat=0)
    tg.fail_next("sendMessage", 502, "Bad Gateway", times=3)
    for _ in range(3):
        with pytest.raises(Exception, match="502"):
            bot.send_message(1, "hi")
    bot.close()
    page = client.get("/").get_data(as_text=True)
    assert 'data-breaker="telegram"' in page and "telegram breaker" in page and "502" in page
