"""Provider circuit breakers (the LLM, Telegram, Todoist, Front, Typesense, transcription,
embeddings): a failing provider opens one shared breaker; runs about to call it wait without
spending attempts, with the reason in explain; the owner is told once; everything completes when
it recovers. Each provider's own settings override the defaults."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from joelclaw import keys
from joelclaw.bus.execution import StepNote, noting_step
from joelclaw.bus.flow import explain_run
from joelclaw.config import PROVIDERS
from joelclaw.coordination.breakers import Breakers, states
from joelclaw.errors import Defer
from joelclaw.events.model import Event
from joelclaw.integrations import breaker
from joelclaw.integrations.embeddings import EmbeddingsClient
from joelclaw.integrations.front import FrontClient
from joelclaw.integrations.telegram import TelegramClient
from joelclaw.integrations.todoist import TodoistClient
from joelclaw.integrations.transcription import TranscriptionClient
from joelclaw.integrations.typesense import SearchClient
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.llm import FakeLLM, echo
from tests.fakes.telegram import FakeTelegram
from tests.fakes.transcription import FakeTranscription
from tests.support import events_named, wait_for

pytestmark = pytest.mark.timeout(150)


def notices(rt: Runtime, service: str) -> list[dict]:
    bodies = [json.loads(raw) for raw in rt.redis.hvals(keys.GW_MSGS)]
    return [b for b in bodies if (b.get("meta") or {}).get("type") == f"breaker.{service}"]


@pytest.fixture
def guarded_rt(tmp_path, redis_url) -> Iterator[tuple[Runtime, Breakers]]:
    rt = Runtime(make_settings(tmp_path / "home", redis_url, breaker_failures=3,
                               breaker_open_seconds=60, telegram_owner_id=7,
                               breaker_providers={"todoist": {"failures": 2}}))
    guard = Breakers(rt)
    breaker.set_guard(guard)
    yield rt, guard
    breaker.set_guard(None)


@pytest.fixture
def bot(tg: FakeTelegram) -> Iterator[TelegramClient]:
    """A Telegram client that tries once: each failure reaches the breaker."""
    client = TelegramClient(tg.token, tg.base_url, max_attempts=1, min_interval_per_chat=0)
    yield client
    client.close()


@pytest.fixture
def trip_telegram(tg: FakeTelegram, bot: TelegramClient) -> Callable[[int, str], None]:
    """Make Telegram fail three sends in a row with this status (opening its breaker)."""

    def trip(status: int, description: str) -> None:
        tg.fail_next("sendMessage", status, description, times=3)
        for _ in range(3):
            with pytest.raises(Exception, match=str(status)):
                bot.send_message(1, "hi")

    return trip


def in_step(rt: Runtime, run_id: str = "run-x"):
    return noting_step(StepNote(rt, run_id, "fn", "step"), {})


def test_failures_in_a_row_open_one_shared_breaker_and_a_success_closes_it(
        guarded_rt, tg: FakeTelegram, bot: TelegramClient, trip_telegram) -> None:
    rt, _ = guarded_rt
    client = bot
    trip_telegram(502, "Bad Gateway")
    tg.fail_next("sendMessage", 400, "Bad Request: chat not found")  # the caller's problem
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


def test_a_429_retry_after_keeps_it_open_at_least_that_long(guarded_rt, tg: FakeTelegram,
                                                            bot: TelegramClient) -> None:
    rt, _ = guarded_rt
    tg.fail_next("sendMessage", 500, "Internal Server Error", times=2)
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 900", retry_after=900)
    for expected in ("500", "500", "429"):
        with pytest.raises(Exception, match=expected):
            bot.send_message(1, "hi")
    found = states(rt)["telegram"]
    assert found["state"] == "open" and found["retry_at"] - time.time() > 800


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


def test_health_and_status_show_an_open_breaker(guarded_rt, trip_telegram) -> None:
    from joelclaw import health

    rt, _ = guarded_rt
    assert health.check(rt)["components"]["providers"]["ok"] is True
    trip_telegram(503, "Service Unavailable")
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


def test_the_dashboard_overview_shows_an_open_breaker(guarded_rt, trip_telegram) -> None:
    from webhooks import create_app

    rt, _ = guarded_rt
    client = create_app(rt.settings.with_overrides(web_open_on_loopback=True)).test_client()
    assert "data-breaker" not in client.get("/").get_data(as_text=True)
    trip_telegram(502, "Bad Gateway")
    page = client.get("/").get_data(as_text=True)
    assert 'data-breaker="telegram"' in page and "telegram breaker" in page and "502" in page


# ---- every other provider: the same breaker, through its own client -----------------------

def no_sleep(_seconds: float) -> None:
    """The clients' own retries go at once: what a test asserts is the breaker, not timing."""


@dataclass
class Provider:
    """How to fail one provider's fake, and one call through its real client."""

    name: str
    client: Callable[[Any], Any]  # the fake -> a client of it
    call: Callable[[Any], Any]  # the client -> one call
    fail: Callable[[Any, int], None]  # the fake, calls -> the next calls all fail with a 5xx
    fake: str  # the fixture giving the fake


def _json_fail(fake: Any, calls: int) -> None:
    fake.fail_next(503, {"error": "unavailable"}, times=calls * 3)  # three attempts a call


PROVIDER_CASES = [
    Provider("todoist", lambda f: TodoistClient(f.token, f.base_url, sleep=no_sleep),
             lambda c: c.create_task("buy milk"), _json_fail, "todoist"),
    Provider("front", lambda f: FrontClient(f.token, f.base_url, sleep=no_sleep),
             lambda c: c.search_conversations("is:open"), _json_fail, "front"),
    Provider("embeddings", lambda f: EmbeddingsClient(f.base_url, "sk-test", "m", max_attempts=1),
             lambda c: c.embed(["hello"]),
             lambda f, n: f.fail_next(500, {"error": {"message": "down"}}, times=n), "llm"),
    Provider("transcription",
             lambda f: TranscriptionClient(f.base_url, f.api_key, "whisper", max_attempts=1),
             lambda c: c.transcribe(c.audio), lambda f, n: f.fail_next(500, times=n),
             "transcription"),
]


@pytest.fixture
def transcription() -> Iterator[FakeTranscription]:
    with FakeTranscription() as fake:
        yield fake


@pytest.fixture
def provider_client(request, tmp_path: Path) -> Iterator[tuple[Provider, Any, Any]]:
    """(the case, its fake, a client of the fake) for a parametrized provider."""
    case: Provider = request.param
    fake = request.getfixturevalue(case.fake)
    client = case.client(fake)
    client.audio = tmp_path / "note.ogg"  # what a transcription call uploads
    client.audio.write_bytes(b"OggS fake audio")
    yield case, fake, client
    client.close()


def test_every_provider_has_a_case_here() -> None:
    assert {c.name for c in PROVIDER_CASES} | {"llm", "telegram", "typesense"} == set(PROVIDERS)


@pytest.mark.parametrize("provider_client", PROVIDER_CASES, ids=lambda c: c.name,
                         indirect=True)
def test_each_provider_client_feeds_its_own_breaker(guarded_rt, provider_client) -> None:
    rt, guard = guarded_rt
    case, fake, client = provider_client
    needed = guard.tunings[case.name].failures
    assert needed == (2 if case.name == "todoist" else 3), "todoist's own setting"
    case.fail(fake, needed)
    for _ in range(needed):
        with pytest.raises(Exception, match=r"50[03]"):
            case.call(client)
    found = states(rt)
    assert found[case.name]["state"] == "open", "opened by its own failures"
    assert [name for name, b in found.items() if b["state"] == "open"] == [case.name]
    with in_step(rt, "run-p"), pytest.raises(Defer) as deferred:
        case.call(client)
    assert f"{case.name} is failing since" in str(deferred.value)
    assert states(rt)[case.name]["waiting"] == ["run-p"]
    assert len(notices(rt, case.name)) == 1
    case.call(client)  # outside a run: goes through, and its success closes the breaker
    assert states(rt)[case.name]["state"] == "closed"
    assert states(rt)[case.name]["waiting"] == []
    [opened] = events_named(rt.redis, "joelclaw/breaker.opened")
    [closed] = events_named(rt.redis, "joelclaw/breaker.closed")
    assert opened["data"]["service"] == closed["data"]["service"] == case.name
    assert "50" in opened["data"]["error"] and closed["data"]["since"] == opened["data"]["since"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_typesense_unreachable_opens_its_breaker_and_a_healthy_answer_closes_it(
        guarded_rt, typesense) -> None:
    rt, _ = guarded_rt
    down = SearchClient(f"http://127.0.0.1:{_closed_port()}", "key", timeout=0.5, retries=0)
    for _ in range(3):
        with pytest.raises(Exception, match="is Typesense running"):
            down.collection("notes")
    assert states(rt)["typesense"]["state"] == "open"
    with in_step(rt, "run-t"), pytest.raises(Defer, match="typesense is failing since"):
        down.collection("notes")
    SearchClient(typesense.url, typesense.api_key).collection("notes")
    assert states(rt)["typesense"]["state"] == "closed"


def test_a_service_with_no_breaker_is_neither_refused_nor_recorded(guarded_rt) -> None:
    rt, guard = guarded_rt
    for _ in range(5):
        guard.after("some-host.example", "HTTP 503", None, 0.1)
    with in_step(rt):
        guard.before("some-host.example")
    assert not rt.redis.exists(keys.breaker("some-host.example"))
