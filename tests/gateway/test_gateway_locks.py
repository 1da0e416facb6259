"""The gateway's locks on real Redis: the per-chat lock of the drain, the one-poller lock and the
drain-request flag, each on the shared primitives (joelclaw.coordination: Lock, cooldown)."""

from __future__ import annotations

from pathlib import Path

import pytest

from joelclaw import keys
from joelclaw.gateway.drain import Keeper
from joelclaw.gateway.inbound import GatewayService
from joelclaw.gateway.service import Gateway, drain_idle, request_drain
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import lease_passed, wait_for

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def rt(tmp_path: Path, redis_url: str) -> Runtime:
    return Runtime(make_settings(tmp_path / "home", redis_url, gateway_claim_lease_seconds=0.6))


def test_one_keeper_per_chat_and_only_the_holder_releases(rt: Runtime) -> None:
    gw = Gateway(rt)
    chat_lock = keys.gw_chat_lock(7)
    with Keeper(gw, ["1"], 7) as first:
        assert first.locked
        with Keeper(gw, ["2"], 7) as second:
            assert not second.locked, "a second turn in the same chat waits"
        assert rt.redis.get(chat_lock) == first.token.encode(), "the loser released nothing"
    assert not rt.redis.exists(chat_lock)


def test_a_keeper_keeps_its_lock_through_a_long_turn(rt: Runtime) -> None:
    gw = Gateway(rt)
    with Keeper(gw, ["1"], 8) as keeper:
        for _ in range(3):  # three leases, measured on the server's clock
            lease_passed(rt.redis, keeper.lease)
            assert rt.redis.get(keys.gw_chat_lock(8)) == keeper.token.encode()


def test_a_lapsed_keeper_neither_extends_nor_deletes_its_successors_lock(rt: Runtime) -> None:
    gw = Gateway(rt)
    chat_lock = keys.gw_chat_lock(9)
    with Keeper(gw, ["1"], 9) as keeper:
        assert keeper.locked
        rt.redis.set(chat_lock, "the-next-gateway", px=10_000)  # its lease ran out, taken over
        for _ in range(2):  # the second renewal began after the takeover
            _renewed(rt)
        assert rt.redis.pttl(chat_lock) > 5_000, "not cut to the old keeper's 0.6 s lease"
    assert rt.redis.get(chat_lock) == b"the-next-gateway"


def _renewed(rt: Runtime) -> None:
    """Return after the keeper's next renewal: each one ends by marking the drain running."""
    rt.redis.delete(keys.GW_DRAIN_RUNNING)
    wait_for(lambda: rt.redis.exists(keys.GW_DRAIN_RUNNING), timeout=10,
             message="the keeper's next renewal")


def test_one_poller_lock_renewed_by_its_holder_and_released_at_stop(rt: Runtime) -> None:
    first, second = GatewayService(rt), GatewayService(rt)
    assert first._hold_poller_lock() and first._hold_poller_lock(), "renewing is holding"
    assert not second._hold_poller_lock()
    second.stop()
    assert rt.redis.exists(keys.GW_POLLER_LOCK), "a non-holder's stop released nothing"
    first.stop()
    assert second._hold_poller_lock()
    second.stop()


def test_a_drain_request_goes_out_once_until_the_drain_starts(rt: Runtime) -> None:
    rt = Runtime(rt.settings.with_overrides(telegram_token="123:drain-test"))  # can deliver
    assert drain_idle(rt)
    assert request_drain(rt)
    assert not request_drain(rt), "already requested"
    assert not drain_idle(rt)
    assert request_drain(rt, force=True), "forced through"
    assert 0 < rt.redis.pttl(keys.GW_DRAIN_PENDING) <= keys.GW_DRAIN_PENDING_TTL * 1000
    rt.redis.delete(keys.GW_DRAIN_PENDING)  # what the drain does when it starts
    assert request_drain(rt)
    sent = rt.redis.llen(keys.GATEWAY_QUEUE)
    assert sent == 3, "one Celery message per request that went out"


def test_without_a_telegram_token_no_drain_is_requested(rt: Runtime) -> None:
    assert rt.settings.telegram_token is None
    assert not request_drain(rt) and not request_drain(rt, force=True)
    assert rt.redis.llen(keys.GATEWAY_QUEUE) == 0
