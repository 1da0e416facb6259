"""Hit, miss and error counts per tier: counted in-process, added to a Redis hash about once a
second, so every process (and /metrics) sees the same totals without a Redis write per hit."""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections import Counter
from typing import TYPE_CHECKING

from joelclaw import keys

if TYPE_CHECKING:
    import redis

TIERS = ("hot", "redis", "file")
FLUSH_EVERY = 1.0


class Stats:
    def __init__(self, client: redis.Redis | None) -> None:
        self.client = client
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._flushed = time.monotonic()
        self._paused_until = 0.0
        ref = weakref.ref(self)
        atexit.register(lambda: (stats := ref()) is not None and stats.flush())

    def pause(self, seconds: float) -> None:
        """Redis is down: keep counting here, try to flush again later."""
        self._paused_until = time.monotonic() + seconds

    def count(self, tier: str, outcome: str) -> None:
        with self._lock:
            self._counts[f"{tier}|{outcome}"] += 1
        now = time.monotonic()
        if now - self._flushed >= FLUSH_EVERY and now >= self._paused_until:
            self.flush()

    def local(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def flush(self) -> bool:
        """Add the counts gathered since the last flush to Redis; keep them if Redis fails."""
        with self._lock:
            pending, self._counts = self._counts, Counter()
            self._flushed = time.monotonic()
        if not pending or self.client is None:
            with self._lock:
                self._counts.update(pending)
            return not pending
        import redis  # here: a module declaring a cache loads no client

        try:
            pipe = self.client.pipeline(transaction=False)
            for field, amount in pending.items():
                pipe.hincrby(keys.CACHE_STATS, field, amount)
            pipe.execute()
            return True
        except redis.RedisError:
            with self._lock:
                self._counts.update(pending)
            self.pause(5.0)
            return False


def read_stats(client: redis.Redis) -> dict[str, dict[str, int]]:
    """Totals across every process: {"hot": {"hit", "miss", "error"}, ..., "fetch": {...}}."""
    raw = client.hgetall(keys.CACHE_STATS)
    out: dict[str, dict[str, int]] = {t: {"hit": 0, "miss": 0, "error": 0} for t in TIERS}
    out["fetch"] = {"count": 0, "error": 0}
    for field, value in raw.items():
        tier, _, outcome = field.decode().partition("|")
        out.setdefault(tier, {})[outcome] = int(value)
    return out


def reset_stats(client: redis.Redis) -> None:
    client.delete(keys.CACHE_STATS)
