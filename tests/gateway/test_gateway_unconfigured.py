"""A gateway without a Telegram token keeps its queue as it is and stays quiet: no drain task a
second, no warning a second (it ran 60 drains a minute and logged 2,271 lines in 12 minutes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from joelclaw import keys
from joelclaw.gateway.notify import deliver
from joelclaw.gateway.service import Gateway
from tests.support import wait_for

pytestmark = pytest.mark.timeout(90)


def heartbeat(rt: Any) -> float:
    return float(rt.redis.get(keys.GATEWAY_HEARTBEAT) or 0)


def test_queued_messages_without_telegram_do_not_spin_the_drain(
    start_gateway: Callable[..., Any],
) -> None:
    worker, rt = start_gateway(telegram_token=None)
    first = wait_for(lambda: heartbeat(rt), 20, message="the gateway's first heartbeat")
    assert deliver(rt, "a notice that cannot go out yet", type="notice")["status"] == "queued"
    # The watchdog ticks once a second: let it tick five times with the message waiting.
    wait_for(lambda: heartbeat(rt) >= first + 5, 30, interval=0.2,
             message="five watchdog ticks")
    log = worker.output()
    assert log.count("Task joelclaw.gateway.drain[") <= 2  # received + succeeded of one, at most
    assert log.count("JOELCLAW_TELEGRAM_TOKEN is not set") <= 1
    assert Gateway(rt).queue.ready_count() == 1  # kept for when a token is configured
