"""ADR-0104 rules of the gateway queue on a controlled clock, against a real Redis."""

from __future__ import annotations

import redis as redis_lib

from joelclaw import keys
from joelclaw.gateway.queue import P0, P1, P2, P3, MessageQueue, classify


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(redis_url: str, clock: Clock, **kw: object) -> MessageQueue:
    return MessageQueue(redis_lib.Redis.from_url(redis_url), clock=clock, **kw)  # type: ignore[arg-type]


def drain_all(queue: MessageQueue) -> list[str]:
    order = []
    while (msg := queue.claim()) is not None:
        order.append(msg.prompt)
        queue.ack([msg.id])
    return order


def test_classification() -> None:
    assert classify("telegram:42") == P0
    assert classify("callback_query") == P0
    assert classify("gateway", {"type": "vercel.deploy.error"}) == P1
    assert classify("gateway", {"eventTypes": ["friction-fix"]}) == P1
    assert classify("gateway", {"event": "test.probe"}) == P3
    assert classify("gateway", {"digestTypes": {"media.processed": 2}}) == P3
    assert classify("gateway", {"type": "todoist.comment.added"}) == P2


def test_starvation_guard_drain_order(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock)
    queue.enqueue("gateway", "notice", priority=P2)
    for i in range(5):
        clock.advance(0.001)
        queue.enqueue("telegram:1", f"owner {i}")
    order = drain_all(queue)
    assert order == ["owner 0", "owner 1", "owner 2", "notice", "owner 3", "owner 4"]


def test_streak_counts_only_while_a_lower_message_waits(redis_url: str) -> None:
    """P0 picks with nothing lower waiting starve nobody: a later P2 must not jump a fresh P0."""
    clock = Clock()
    queue = make(redis_url, clock)
    for i in range(4):
        clock.advance(0.001)
        queue.enqueue("telegram:1", f"early {i}")
    assert drain_all(queue) == [f"early {i}" for i in range(4)]
    clock.advance(0.001)
    queue.enqueue("gateway", "notice", priority=P2)
    for i in range(4):
        clock.advance(0.001)
        queue.enqueue("telegram:1", f"owner {i}")
    assert drain_all(queue) == ["owner 0", "owner 1", "owner 2", "notice", "owner 3"]


def test_priority_order_then_fifo(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock)
    queue.enqueue("gateway", "p3", priority=P3)
    queue.enqueue("gateway", "p2a", priority=P2)
    queue.enqueue("gateway", "p1", priority=P1)
    queue.enqueue("gateway", "p2b", priority=P2)
    assert drain_all(queue) == ["p1", "p2a", "p2b"]
    clock.advance(5)  # a probe settles 5 s before it is delivered
    assert drain_all(queue) == ["p3"]


def test_probe_burst_settles_into_one_message(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock)
    queue.enqueue("gateway", "probe a", priority=P3)
    assert queue.claim() is None  # too fresh: more of the burst may follow
    clock.advance(2)
    queue.enqueue("gateway", "probe b", priority=P3)
    clock.advance(3)
    msg = queue.claim()
    assert msg is not None and msg.prompt.startswith("2 probe events suppressed")


def test_three_p3_collapse_into_one(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock)
    for i in range(3):
        queue.enqueue("gateway", f"probe {i}", priority=P3)
        clock.advance(5)
    msg = queue.claim()
    assert msg is not None
    assert msg.prompt.startswith("3 probe events suppressed")
    assert msg.meta["coalescedCount"] == 3
    assert len(msg.meta["coalescedIds"]) == 3
    queue.ack([msg.id])
    assert queue.claim() is None
    assert queue.depth()["p3"] == 0


def test_p3_auto_acked_after_60s(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock)
    queue.enqueue("gateway", "old probe", priority=P3)
    clock.advance(61)
    assert queue.claim() is None
    assert int(queue.redis.hget(keys.GW_STATS, "auto_acked")) == 1


def test_aging_promotes_p2_after_five_minutes(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock)
    queue.enqueue("gateway", "waiting p2", priority=P2)
    clock.advance(299)
    queue.enqueue("gateway", "fresh p1", priority=P1)
    clock.advance(0.5)
    first = queue.claim()
    assert first is not None and first.prompt == "fresh p1"  # not aged yet (299.5 s)
    queue.release(first)
    clock.advance(1)
    aged = queue.claim()
    assert aged is not None and aged.prompt == "waiting p2" and aged.eff == P1


def test_content_dedup_within_30s(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock)
    assert queue.enqueue("gateway", "same") is not None
    clock.advance(10)
    assert queue.enqueue("gateway", "same") is None
    assert queue.enqueue("gateway", "other") is not None
    # as if 30 s passed (TTL in Redis)
    queue.redis.delete(*queue.redis.scan_iter(keys.gw_dedup("*")))
    assert queue.enqueue("gateway", "same") is not None
    # the owner's own messages are never content-deduplicated
    assert queue.enqueue("telegram:1", "ok", dedup=False) is not None
    assert queue.enqueue("telegram:1", "ok", dedup=False) is not None


def test_idempotency_key(redis_url: str) -> None:
    queue = make(redis_url, Clock())
    first = queue.enqueue("telegram:1", "hi", idem_key="u1", dedup=False)
    assert first is not None
    assert queue.enqueue("telegram:1", "hi", idem_key="u1", dedup=False) is None


def test_restart_replay_unacked_not_acked(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock, lease_seconds=30)
    queue.enqueue("gateway", "acked")
    queue.enqueue("gateway", "in flight when the gateway died")
    done = queue.claim()
    assert done is not None
    queue.ack([done.id])
    lost = queue.claim()
    assert lost is not None and lost.prompt == "in flight when the gateway died"
    # a new gateway process (a new queue object) after the claim's lease ran out
    clock.advance(31)
    restarted = make(redis_url, clock, lease_seconds=30)
    replayed = restarted.claim()
    assert replayed is not None and replayed.prompt == "in flight when the gateway died"
    restarted.ack([replayed.id])
    assert restarted.claim() is None


def test_poison_message_goes_to_dead_list(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock, lease_seconds=1, max_attempts=2)
    queue.enqueue("gateway", "crashes the gateway")
    for _ in range(2):
        assert queue.claim() is not None
        clock.advance(2)
    assert queue.claim() is None
    assert queue.depth()["dead"] == 1


def test_extend_keeps_a_long_turn_claimed(redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock, lease_seconds=10)
    queue.enqueue("gateway", "long")
    msg = queue.claim()
    assert msg is not None
    clock.advance(8)
    queue.extend([msg.id])
    clock.advance(8)
    assert queue.claim() is None


def test_sleep_mode_claims_only_p0(redis_url: str) -> None:
    queue = make(redis_url, Clock())
    queue.enqueue("gateway", "held", priority=P2)
    assert queue.claim(sleeping=True) is None
    queue.enqueue("telegram:1", "owner")
    owner = queue.claim(sleeping=True)
    assert owner is not None and owner.prompt == "owner"
    held = queue.take_held()
    assert [m.prompt for m in held] == ["held"]


def test_merge_claims_consecutive_same_key(redis_url: str) -> None:
    queue = make(redis_url, Clock())
    for text in ("a", "b", "c"):
        queue.enqueue("telegram:1", text, kind="text", merge_key="1", dedup=False)
    queue.enqueue("telegram:1", "/status", kind="command", dedup=False)
    first = queue.claim()
    assert first is not None and first.mk == "1"
    more = queue.claim_more("1")
    assert [m.prompt for m in more] == ["b", "c"]
    nxt = queue.claim()
    assert nxt is not None and nxt.prompt == "/status"


def test_a_dead_holders_claims_are_replayed_at_once(redis_url: str) -> None:
    import os
    import subprocess
    import sys

    from joelclaw.gateway.holders import HOSTNAME

    clock = Clock()
    exited = subprocess.Popen([sys.executable, "-c", "pass"])
    exited.wait()
    dead = make(redis_url, clock, lease_seconds=30, holder=f"{HOSTNAME}:{exited.pid}:a")
    live = make(redis_url, clock, lease_seconds=30, holder=f"{HOSTNAME}:{os.getppid()}:b")
    remote = make(redis_url, clock, lease_seconds=30, holder=f"elsewhere:{exited.pid}:c")
    for queue, text in ((dead, "held by a killed gateway"), (live, "held by a live one"),
                        (remote, "held on another host")):
        queue.enqueue("gateway", text)
        assert queue.claim() is not None
    restarted = make(redis_url, clock, lease_seconds=30)
    assert restarted.claim() is None, "all three are in flight"
    assert restarted.reclaim_dead() == 1
    replayed = restarted.claim()
    assert replayed is not None and replayed.prompt == "held by a killed gateway"
    assert restarted.claim() is None, "a live or remote holder keeps its claim until the lease"
    restarted.ack([replayed.id])
    assert restarted.redis.hlen(keys.GW_CLAIM_HOLDERS) == 2 and restarted.reclaim_dead() == 0


def test_a_crashed_claim_is_replayed_within_ten_minutes_and_dropped_after(
        redis_url: str) -> None:
    clock = Clock()
    queue = make(redis_url, clock, lease_seconds=30)
    queue.enqueue("gateway", "young")
    assert queue.claim() is not None  # the gateway holding it dies
    clock.advance(9 * 60)
    restarted = make(redis_url, clock, lease_seconds=30)
    replayed = restarted.claim()
    assert replayed is not None and replayed.prompt == "young"  # 9 minutes old: replayed
    clock.advance(2 * 60)  # it dies again; the message is now 11 minutes old
    again = make(redis_url, clock, lease_seconds=30)
    assert again.claim() is None
    assert again.depth()["dead"] == 1 and again.depth()["inflight"] == 0
    assert int(again.redis.hget(keys.GW_STATS, "too_old_to_replay")) == 1
