"""Gateway fixtures: a fake Telegram (and LLM) over real sockets, settings pointing at them, and
a real gateway worker (`-Q gateway -c 1`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.support import WorkerProcess, wait_for, wait_settled

OWNER = 424242
STRANGER = 777


def gateway_settings(tmp_path: Path, redis_url: str, tg: FakeTelegram,
                     **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_token": tg.token, "telegram_api_url": tg.base_url,
        "telegram_owner_id": OWNER, "gateway_poll_timeout_seconds": 1,
        "gateway_claim_lease_seconds": 2.0, "gateway_chat_interval_seconds": 0.0,
        "gateway_merge_window_seconds": 0.3,
    }
    values.update(overrides)
    return make_settings(tmp_path / "home", redis_url, **values)


def with_llm(llm: FakeLLM) -> dict[str, Any]:
    return {"llm_api_url": llm.base_url, "llm_api_key": "sk-test", "llm_model": "test-model"}


@pytest.fixture
def start_gateway(tmp_path: Path, redis_url: str, tg: FakeTelegram,
                  worker_factory: Callable[..., WorkerProcess]
                  ) -> Callable[..., tuple[WorkerProcess, Runtime]]:
    def start(**overrides: Any) -> tuple[WorkerProcess, Runtime]:
        settings = gateway_settings(tmp_path, redis_url, tg, **overrides)
        worker = worker_factory(queues="gateway", concurrency=1, settings_override=settings)
        return worker, Runtime(settings)

    return start


def replies(tg: FakeTelegram, chat: int = OWNER) -> list[str]:
    return [m.get("text", "") for m in tg.sent_messages(chat)]


def wait_replies(tg: FakeTelegram, count: int, chat: int = OWNER,
                 timeout: float = 20.0) -> list[str]:
    wait_for(lambda: len(replies(tg, chat)) >= count, timeout,
             message=f"{count} message(s) to chat {chat}; got {replies(tg, chat)}")
    return replies(tg, chat)


def quiet(tg: FakeTelegram, rt: Runtime, *, held: int = 0) -> list[str]:
    """The owner's chat once nothing more can happen: every Telegram update read (an update
    is stored before its offset is confirmed) and everything downstream settled (runs, the
    gateway's queue and claims, the broker). An extra or repeated reply would be in it."""
    wait_settled(rt, held=held, also=lambda: not tg.pending_updates())
    return replies(tg)
