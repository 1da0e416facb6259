"""The gateway queue's clock: real time plus an offset a test or an operator can set, so the
time rules (a P2 waiting 5 minutes is aged to P1, a P3 is auto-acknowledged after 60 s, an
unacknowledged message is replayed after a crash only within 10 minutes) can be checked on a
running system without waiting minutes.

The offset lives in Redis (`jc:clock:offset`, seconds) so every process of the system reads the
same time; it expires (an hour by default), so a forgotten offset cannot stay. The queue's Lua
scripts never read Redis's TIME: they get this clock's time as an argument. Redis key TTLs (the
30 s content dedup) keep real time. `joelclaw gateway clock` shows and sets it.

Beat reads the same key (joelclaw.bus.celery.cron.beat_clock), so cron fires and their catch-up
after a gap (joelclaw.bus.celery.catchup) can be tried the same way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from joelclaw import keys

if TYPE_CHECKING:
    import redis


class Clock:
    """`clock()` is the time in seconds: real time plus the offset set in Redis, if any.

    Read on every call (one GET; the gateway queue is not a hot path), so every process and
    every operation of the queue (enqueue, claim, extend) agree on the time at once: a claim's
    lease deadline and the claim that checks it must never use two different clocks."""

    def __init__(self, client: redis.Redis):
        self.redis = client

    def offset(self) -> float:
        raw = self.redis.get(keys.CLOCK_OFFSET)
        return float(raw) if raw else 0.0

    def __call__(self) -> float:
        return time.time() + self.offset()


def set_offset(client: redis.Redis, seconds: float,
               ttl: float = keys.CLOCK_OFFSET_TTL) -> None:
    """Move every process's gateway clock `seconds` ahead of real time (0 clears it)."""
    if not seconds:
        client.delete(keys.CLOCK_OFFSET)
        return
    client.set(keys.CLOCK_OFFSET, repr(float(seconds)), px=max(1, int(ttl * 1000)))


def read_offset(client: redis.Redis) -> tuple[float, float | None]:
    """The offset now, and how many seconds it has left (None when none is set)."""
    pipe = client.pipeline(transaction=False)
    pipe.get(keys.CLOCK_OFFSET)
    pipe.pttl(keys.CLOCK_OFFSET)
    raw, ttl = pipe.execute()
    if raw is None:
        return 0.0, None
    return float(raw), max(0.0, ttl / 1000) if ttl and ttl > 0 else None
