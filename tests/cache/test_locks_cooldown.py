"""The lock (owner token, lease renewal, owner-only release) and the cooldown, on real Redis."""

from __future__ import annotations

import threading

import pytest
import redis

from joelclaw import keys
from joelclaw.coordination.cooldown import cooldown, remaining, reset
from joelclaw.coordination.locks import Lock, LockNotAcquired
from tests.support import lease_passed, wait_for

NUDGE = keys.cooldown("nudge")


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_only_the_owner_releases_and_renews(client: redis.Redis) -> None:
    mine, theirs = Lock(client, keys.lock("job"), 5), Lock(client, keys.lock("job"), 5)
    assert mine.acquire() and not theirs.acquire()
    assert not theirs.release() and not theirs.renew()
    assert mine.owned() and client.exists("jc:lock:job")
    assert mine.release() and not client.exists("jc:lock:job")
    assert theirs.acquire()


def test_an_expired_holder_cannot_release_the_new_owners_lock(client: redis.Redis) -> None:
    old = Lock(client, keys.lock("lease"), 0.2)
    assert old.acquire()
    wait_for(lambda: not client.exists("jc:lock:lease"), timeout=10, message="the lease lapsed")
    new = Lock(client, keys.lock("lease"), 5)
    assert new.acquire()
    assert not old.release() and not old.renew()
    assert new.owned()


def test_take_over_replaces_only_the_named_holder(client: redis.Redis) -> None:
    dead = Lock(client, keys.lock("hand"), 30, token="host:1:dead")
    assert dead.acquire()
    heir, rival = Lock(client, keys.lock("hand"), 5), Lock(client, keys.lock("hand"), 5)
    assert not heir.acquire()
    assert heir.take_over("host:1:dead") and heir.owned()
    assert 0 < client.pttl("jc:lock:hand") <= 5000  # the heir's own lease, not the dead one's
    assert not rival.take_over("host:1:dead")  # the dead holder no longer has it
    assert heir.owned() and not dead.renew()


def test_a_chosen_token_makes_acquire_reentrant_for_its_owner(client: redis.Redis) -> None:
    assert Lock(client, keys.lock("observe"), 60, token="run-1").acquire()
    assert Lock(client, keys.lock("observe"), 60, token="run-1").acquire(), "the same run, retried"
    assert not Lock(client, keys.lock("observe"), 60, token="run-2").acquire()


def test_keep_alive_renews_while_the_block_runs_and_stops_after(client: redis.Redis) -> None:
    lock = Lock(client, keys.lock("long"), 0.6)
    assert lock.acquire()
    with lock.keep_alive() as lost:
        for _ in range(3):  # three leases, measured on the server's clock
            lease_passed(client, lock.lease)
            assert lock.owned() and not lost.is_set()
    # no renewal once the block ended: the lock lapses with its last lease
    wait_for(lambda: not client.exists("jc:lock:long"), timeout=10, message="the lock lapsed")


def test_keep_alive_reports_a_lost_lock(client: redis.Redis) -> None:
    lock = Lock(client, keys.lock("stolen"), 0.6)
    assert lock.acquire()
    with lock.keep_alive() as lost:
        client.set("jc:lock:stolen", "someone-else")
        assert lost.wait(2)


def _renew_calls(client: redis.Redis) -> int:
    """EVALs the server ran so far (a lock's renew is one)."""
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k in ("cmdstat_eval",
                                                                   "cmdstat_evalsha"))


def test_blocking_acquire_waits_for_the_holder_then_times_out(client: redis.Redis) -> None:
    holder = Lock(client, keys.lock("busy"), 60)
    holder.acquire()
    order: list[str] = []
    waiter = Lock(client, keys.lock("busy"), 5)
    tries = _renew_calls(client)  # each failed try of a blocking acquire asks to renew
    waiting = threading.Thread(target=lambda: order.append(
        f"acquired {waiter.acquire(blocking=True, timeout=60)}"))
    waiting.start()
    wait_for(lambda: _renew_calls(client) >= tries + 3, message="the waiter retrying")
    assert order == []  # still waiting while the holder holds
    order.append("released")
    holder.release()
    waiting.join(30)
    assert order == ["released", "acquired True"]
    assert waiter.owned()
    with pytest.raises(LockNotAcquired), Lock(client, keys.lock("busy"), 0.3):
        pass


def test_a_cooldown_lets_one_caller_act_per_period(client: redis.Redis) -> None:
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(
        cooldown(client, NUDGE, 0.5))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
    assert 0 < remaining(client, NUDGE) <= 0.5
    assert not cooldown(client, NUDGE, 0.5), "still cooling down"
    wait_for(lambda: remaining(client, NUDGE) == 0, timeout=10, message="the period over")
    assert cooldown(client, NUDGE, 0.5)
    reset(client, NUDGE)
    assert cooldown(client, NUDGE, 0.5)
