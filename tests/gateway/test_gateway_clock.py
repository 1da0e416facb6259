"""The gateway's time rules on a real gateway worker, checked by moving its clock
(joelclaw.gateway.clock: an offset in Redis every process reads) instead of waiting minutes: a
P2 waiting 5 minutes goes as P1, a P3 unclaimed for 60 s is auto-acknowledged, a claim whose
gateway died is replayed only within 10 minutes (an older one goes to the dead list)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from joelclaw import keys
from joelclaw.cli import cli
from joelclaw.gateway.clock import Clock, set_offset
from joelclaw.gateway.holders import HOSTNAME
from joelclaw.gateway.notify import deliver
from joelclaw.gateway.queue import MessageQueue
from joelclaw.gateway.service import Gateway, request_drain
from joelclaw.runtime import Runtime
from tests.fakes.telegram import FakeTelegram
from tests.gateway.conftest import gateway_settings, replies, wait_replies
from tests.support import wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def rt(tmp_path: Any, redis_url: str, tg: FakeTelegram) -> Iterator[Runtime]:
    runtime = Runtime(gateway_settings(tmp_path, redis_url, tg))
    yield runtime
    set_offset(runtime.redis, 0)


def events_view(rt: Runtime) -> dict[str, Any]:
    import json

    env = {"JOELCLAW_REDIS_URL": rt.settings.redis_url, "JOELCLAW_HOME": str(rt.settings.home)}
    result = CliRunner().invoke(cli, ["gateway", "events", "--json"], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["result"]


def test_a_p2_waiting_five_minutes_goes_before_a_newer_p1(
    rt: Runtime, tg: FakeTelegram, start_gateway: Callable[..., Any],
) -> None:
    Gateway(rt).set_sleeping(True)  # both wait, as they would behind a busy queue
    deliver(rt, "the older notice", type="notice", priority=2)
    set_offset(rt.redis, 6 * 60)  # six minutes later, for every process
    deliver(rt, "a newer alert", type="alert", priority=1)
    [waiting] = events_view(rt)["waiting"]["p2"]
    assert waiting["effective_priority"] == 1 and waiting["age_s"] >= 360
    start_gateway()
    Gateway(rt).set_sleeping(False)
    request_drain(rt, force=True)
    assert wait_replies(tg, 2) == ["the older notice", "a newer alert"]


def test_a_p3_unclaimed_for_60_s_is_auto_acknowledged(
    rt: Runtime, tg: FakeTelegram, start_gateway: Callable[..., Any],
) -> None:
    Gateway(rt).set_sleeping(True)
    deliver(rt, "a probe nobody needs to see", type="test.probe", priority=3)
    set_offset(rt.redis, 61)
    assert events_view(rt)["waiting"]["p3"][0]["auto_ack_due"] is True
    start_gateway()
    Gateway(rt).set_sleeping(False)
    request_drain(rt, force=True)
    wait_for(lambda: int(rt.redis.hget(keys.GW_STATS, "auto_acked") or 0) == 1, 30,
             message="the probe auto-acknowledged")
    deliver(rt, "a later notice", type="notice", priority=2)
    assert wait_replies(tg, 1) == ["a later notice"]  # the probe was never sent
    assert Gateway(rt).queue.depth()["p3"] == 0


def test_a_dead_gateways_claims_are_replayed_only_within_ten_minutes(
    rt: Runtime, tg: FakeTelegram, start_gateway: Callable[..., Any],
) -> None:
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    crashed = MessageQueue(rt.redis, clock=Clock(rt.redis), lease_seconds=30,
                           holder=f"{HOSTNAME}:{exited.pid}:x")  # a gateway that was SIGKILLed
    crashed.enqueue("gateway", "asked twelve minutes ago", priority=2)
    set_offset(rt.redis, 8 * 60)
    crashed.enqueue("gateway", "asked four minutes ago", priority=2)
    assert crashed.claim() is not None and crashed.claim() is not None  # both in its turn
    set_offset(rt.redis, 12 * 60)
    start_gateway()  # takes over the dead holder's claims at once
    assert wait_replies(tg, 1) == ["asked four minutes ago"]
    wait_for(lambda: Gateway(rt).queue.depth()["dead"] == 1, 20, message="the old one dropped")
    assert int(rt.redis.hget(keys.GW_STATS, "too_old_to_replay")) == 1
    assert replies(tg) == ["asked four minutes ago"]


def test_the_clock_command_moves_and_resets_the_gateways_clock(rt: Runtime) -> None:
    import json

    env = {"JOELCLAW_REDIS_URL": rt.settings.redis_url, "JOELCLAW_HOME": str(rt.settings.home)}

    def clock(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(cli, ["gateway", "clock", *args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)["result"]

    assert clock()["offset_s"] == 0
    moved = clock("--advance", "6m", "--keep", "10m")
    assert moved["offset_s"] == 360 and 0 < moved["clears_in_s"] <= 600
    assert moved["gateway_time"] - moved["real_time"] == pytest.approx(360)
    assert Clock(rt.redis).offset() == 360
    assert clock("--reset")["offset_s"] == 0 and Clock(rt.redis).offset() == 0
    both = CliRunner().invoke(cli, ["gateway", "clock", "--advance", "1m", "--reset"], env=env)
    assert both.exit_code == 2
