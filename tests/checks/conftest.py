"""Checks fixtures: the fakes (Telegram, Todoist, Front, LLM) over real sockets, settings with
only the installed application's functions, real worker processes and a real beat."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from joelclaw import keys
from joelclaw.bus.celery import last_field
from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.front import FakeFront
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.support import ChildProcess, WorkerProcess, wait_for

OWNER = 424242


class CheckLLM:
    """Answers by prompt: the email triage, the task triage, the digest; counts the calls."""

    def __init__(self) -> None:
        self.email: dict[str, tuple[str, str]] = {}  # conversation id -> (action, reason)
        self.calls: dict[str, int] = {"email": 0, "tasks": 0, "digest": 0, "other": 0}

    def __call__(self, messages: list[dict[str, str]]) -> str:
        system = messages[0]["content"]
        if "triage an email inbox" in system:
            self.calls["email"] += 1
            items = json.loads(messages[-1]["content"])
            answer = [{"id": c["id"], "action": self.email.get(c["id"], ("archive", ""))[0],
                       "reason": self.email.get(c["id"], ("", "newsletter"))[1]}
                      for c in items]
            return "Here you go:\n```json\n" + json.dumps(answer) + "\n```"
        if "chief of staff" in system:
            self.calls["tasks"] += 1
            return "- Ship the release first\n- Drop the duplicate gutter task"
        if "daily digest" in system:
            self.calls["digest"] += 1
            return "# Digest\n- A calm day: the checks ran."
        self.calls["other"] += 1
        return "ok"


@pytest.fixture
def check_llm() -> CheckLLM:
    return CheckLLM()


@pytest.fixture
def llm(check_llm: CheckLLM) -> Iterator[FakeLLM]:
    fake = FakeLLM(reply=check_llm)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def make(tmp_path: Path, redis_url: str, tg: FakeTelegram) -> Callable[..., Settings]:
    """Settings for the installed application only (no test functions), Telegram configured;
    keyword arguments add or override settings."""
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "function_modules": [], "telegram_token": tg.token,
            "telegram_api_url": tg.base_url, "telegram_owner_id": OWNER,
            "gateway_poll_timeout_seconds": 1, "gateway_claim_lease_seconds": 2.0,
            "gateway_chat_interval_seconds": 0.0, "checks_tasks_cache_seconds": 0,
            "health_confirm_seconds": 0,  # told at once, unless a test is about the confirming
        }
        values.update(overrides)
        return make_settings(tmp_path / "home", redis_url, **values)

    return build


def with_llm(llm: FakeLLM) -> dict[str, Any]:
    return {"llm_api_url": llm.base_url, "llm_api_key": "sk-test", "llm_model": "test-model"}


def with_todoist(todoist: FakeTodoist) -> dict[str, Any]:
    return {"todoist_token": todoist.token, "todoist_api_url": todoist.base_url}


def with_front(front: FakeFront) -> dict[str, Any]:
    return {"front_token": front.token, "front_api_url": front.base_url}


@pytest.fixture
def start(worker_factory: Callable[..., WorkerProcess],
          beat_factory: Callable[[Settings], ChildProcess]) -> Callable[..., Runtime]:
    """`start(settings, gateway=..., beat=...)`: a function worker, and optionally the gateway
    worker and beat, all on these settings; returns a runtime on them (the factories stop
    what they started)."""

    def go(settings: Settings, *, gateway: bool = False, beat: bool = False) -> Runtime:
        rt = Runtime(settings)
        if beat:
            hold_crons(rt)
            beat_factory(settings)
            wait_for(lambda: rt.redis.get(keys.BEAT_TICK), 40, message="beat's first tick")
        workers = [worker_factory(queues="joelclaw", concurrency=2, settings_override=settings,
                                  wait=False)]
        if gateway:
            workers.append(worker_factory(queues="gateway", concurrency=1,
                                          settings_override=settings, wait=False))
        for worker in workers:
            worker.wait_ready()
        return rt

    return go


def hold_crons(rt: Runtime) -> None:
    """Beat ticks (the health check judges its liveness) but fires no cron slot, whatever the
    wall clock says: its record of each entry's newest handled slot (`keys.CRON_LAST`) is put
    far ahead, so only the test's own events start runs (a five-minute or quarter-hour tick
    inside a test would start a second heartbeat, health check or gateway check)."""
    ahead = datetime(2100, 1, 1, tzinfo=UTC).timestamp()
    rt.redis.hset(keys.CRON_LAST, mapping={
        last_field(name, trig.cron or "", trig.timezone): ahead
        for name, _fn, trig in rt.registry.crons()})


def texts(tg: FakeTelegram) -> list[str]:
    return [m.get("text", "") for m in tg.sent_messages(OWNER)]
