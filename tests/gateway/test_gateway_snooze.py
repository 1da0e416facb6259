"""The owner's snooze press, end to end through the gateway and `telegram-callback-received`:
the message is edited once (by the function, which says until when), not twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from joelclaw.checks import snooze
from joelclaw.gateway.outbound import send_text
from joelclaw.integrations.telegram import TelegramClient
from tests.conftest import TEST_MODULES
from tests.fakes.telegram import FakeTelegram
from tests.gateway.conftest import OWNER
from tests.support import wait_for

pytestmark = pytest.mark.timeout(90)


def test_a_snooze_press_edits_the_message_once(
    tg: FakeTelegram, start_gateway: Callable[..., Any], worker_factory: Callable[..., Any],
) -> None:
    _, rt = start_gateway(function_modules=[*TEST_MODULES, "tasks.checks"])
    worker_factory(queues="joelclaw", settings_override=rt.settings)
    key = "disk-space-check"
    text = "💾 Disk almost full on the NAS"
    snooze.remember(rt.redis, key, text)
    with TelegramClient(tg.token, tg.base_url, min_interval_per_chat=0) as client:
        [mid] = send_text(client, OWNER, text, buttons=[[snooze.button(key)]])
    tg.push_callback(OWNER, OWNER, mid, f"s4h:{key}")
    wait_for(lambda: "Snoozed for 4h (until" in tg.message(OWNER, mid)["text"], 30,
             message="the function's edit")
    assert snooze.snoozed(rt.redis, key) > 0
    assert len(tg.calls("answerCallbackQuery")) == 1
    edits = [c for c in tg.calls("editMessageText") if c.params.get("message_id") == mid]
    assert len(edits) == 1, [e.params.get("text") for e in edits]
    assert "reply_markup" not in tg.message(OWNER, mid)
