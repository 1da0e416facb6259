"""The tiered cache: read down the chain, back-fill up it, one fetch per key at a time.

A chain is chosen per call: `tier="hot"` (this process only), `"shared"` (hot, then Redis) or
`"warm"` (hot, Redis, then the file tier). A read stops at the first tier that has the value and
writes it back into the tiers above with the time it has left. A miss fetches once: threads of
one process wait on a per-key lock, and processes wait on a Redis lock (with a lease, so a holder
that dies frees it), polling the Redis tier for the value the holder writes. Any tier that fails
is skipped (counted as an error) and the call goes on with the next one; the caller only ever sees
its own fetcher's exceptions.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from joelclaw import keys
from joelclaw.cache.stats import Stats
from joelclaw.cache.tiers import Entry, FileTier, HotTier, RedisTier
from joelclaw.coordination.locks import Lock

if TYPE_CHECKING:
    import redis

log = logging.getLogger("joelclaw.cache")

TierName = Literal["hot", "shared", "warm"]
CHAINS: dict[str, tuple[str, ...]] = {"hot": ("hot",), "shared": ("hot", "redis"),
                                      "warm": ("hot", "redis", "file")}
MISSING = object()
SKIP_BROKEN_FOR = 5.0  # a tier that failed is skipped this long, so a dead Redis costs one timeout


class Cache:
    """One cache for a process: the hot tier is its own, Redis and files are shared."""

    def __init__(self, client: redis.Redis | None, directory: Path | None, *,
                 default_ttl: float = 300.0, warm_ttl: float = 3600.0, fill_lease: float = 30.0,
                 hot_size: int = 10000) -> None:
        self.tiers: dict[str, Any] = {"hot": HotTier(hot_size)}
        if client is not None:
            self.tiers["redis"] = RedisTier(client)
        if directory is not None:
            self.tiers["file"] = FileTier(directory)
        self.client = client
        self.default_ttl = default_ttl
        self.warm_ttl = warm_ttl
        self.fill_lease = fill_lease
        self.stats = Stats(client)
        self._flights: dict[str, list[Any]] = {}
        self._flights_lock = threading.Lock()
        self._broken_until: dict[str, float] = {}

    # -- the chain -----------------------------------------------------------------------

    def _chain(self, tier: str) -> list[str]:
        if tier not in CHAINS:
            raise ValueError(f"unknown cache tier {tier!r}: use one of {', '.join(CHAINS)}")
        return [name for name in CHAINS[tier] if name in self.tiers]

    def _try(self, tier: str, action: Callable[[], Any]) -> Any:
        if self._broken_until.get(tier, 0.0) > time.monotonic():
            return MISSING
        import redis  # here: a module declaring a cache loads no client

        try:
            return action()
        except (redis.RedisError, OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("cache tier %s failed, skipping it for %gs: %s", tier, SKIP_BROKEN_FOR,
                        exc)
            self.stats.count(tier, "error")
            if isinstance(exc, redis.ConnectionError | redis.TimeoutError | PermissionError):
                self._broken_until[tier] = time.monotonic() + SKIP_BROKEN_FOR
                if tier == "redis":
                    self.stats.pause(SKIP_BROKEN_FOR)
            return MISSING

    def _read(self, chain: list[str], namespace: str, key: str) -> Entry | None:
        missed: list[str] = []
        for name in chain:
            entry = self._try(name, partial(self.tiers[name].get, namespace, key))
            if entry is MISSING or entry is None:
                if entry is None:
                    self.stats.count(name, "miss")
                missed.append(name)
                continue
            self.stats.count(name, "hit")
            for upper in missed:  # back-fill with the time the value has left
                self._try(upper, partial(self.tiers[upper].set, namespace, key, *entry))
            return entry
        return None

    def _write(self, chain: list[str], namespace: str, key: str, text: str,
               ttl: float, warm_ttl: float) -> None:
        now = time.time()
        for name in chain:
            expires = now + (warm_ttl if name == "file" else ttl)
            self._try(name, partial(self.tiers[name].set, namespace, key, text, expires))

    # -- the API -------------------------------------------------------------------------

    def get(self, namespace: str, key: str, default: Any = None, *,
            tier: TierName = "shared") -> Any:
        entry = self._read(self._chain(tier), namespace, key)
        return json.loads(entry[0]) if entry is not None else default

    def set(self, namespace: str, key: str, value: Any, *, ttl: float | None = None,
            tier: TierName = "shared", warm_ttl: float | None = None) -> bool:
        """Store a JSON-able value in every tier of the chain; False if it is not JSON-able."""
        try:
            text = json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            log.warning("cache %s:%s: value not stored, not JSON: %s", namespace, key, exc)
            return False
        ttl = self.default_ttl if ttl is None else ttl
        self._write(self._chain(tier), namespace, key, text, ttl,
                    warm_ttl if warm_ttl is not None else max(ttl, self.warm_ttl))
        return True

    def invalidate(self, namespace: str, key: str) -> None:
        for name, tier in self.tiers.items():
            self._try(name, partial(tier.delete, namespace, key))

    def invalidate_pattern(self, pattern: str) -> int:
        """Delete every `<namespace>:<key>` matching a glob (e.g. `recall:*`) in every tier."""
        removed = 0
        for name, tier in self.tiers.items():
            count = self._try(name, partial(tier.delete_pattern, pattern))
            removed += 0 if count is MISSING else int(count)
        return removed

    def fetch(self, namespace: str, key: str, fetcher: Callable[[], Any], *,
              ttl: float | None = None, tier: TierName = "shared",
              warm_ttl: float | None = None) -> Any:
        """The cached value, or `fetcher()` run once (per key, across threads and processes)."""
        chain = self._chain(tier)
        entry = self._read(chain, namespace, key)
        if entry is not None:
            return json.loads(entry[0])
        with self._flight(f"{namespace}:{key}"):
            entry = self._read(chain[:1], namespace, key)  # filled while we waited our turn
            if entry is not None:
                return json.loads(entry[0])
            if "redis" in chain:
                found = self._across_processes(chain, namespace, key)
                if isinstance(found, _Held):
                    return self._fill(chain, namespace, key, fetcher, ttl, warm_ttl, found.lock)
                if found is not MISSING:
                    return found
            return self._fill(chain, namespace, key, fetcher, ttl, warm_ttl)

    def _fill(self, chain: list[str], namespace: str, key: str, fetcher: Callable[[], Any],
              ttl: float | None, warm_ttl: float | None, lock: Lock | None = None) -> Any:
        try:
            self.stats.count("fetch", "count")
            if lock is None:
                value = fetcher()
            else:
                with lock.keep_alive():  # a slow fetch keeps the others waiting, not fetching
                    value = fetcher()
            self.set(namespace, key, value, ttl=ttl, tier=_tier_of(chain), warm_ttl=warm_ttl)
            return value
        finally:
            if lock is not None:
                self._try("redis", lock.release)

    def _across_processes(self, chain: list[str], namespace: str, key: str) -> Any:
        """The value another process filled while we waited; `_Held` when we got the fill lock
        (fetch, `_fill` releases it); MISSING when Redis failed or the wait timed out."""
        lock = Lock(self.client, keys.cache_fill_lock(namespace, key), self.fill_lease)
        deadline = time.monotonic() + self.fill_lease
        while time.monotonic() < deadline:
            got = self._try("redis", lock.acquire)
            if got is MISSING:
                return MISSING  # Redis is down: no cross-process protection, fetch here
            if got:
                entry = self._read(chain, namespace, key)  # filled just before we got it
                if entry is not None:
                    self._try("redis", lock.release)
                    return json.loads(entry[0])
                return _Held(lock)
            time.sleep(0.02)
            entry = self._try("redis", lambda: self.tiers["redis"].get(namespace, key))
            if entry not in (MISSING, None):
                self.stats.count("redis", "hit")
                self._try("hot", partial(self.tiers["hot"].set, namespace, key, *entry))
                return json.loads(entry[0])
        return MISSING

    def _flight(self, name: str) -> _Flight:
        return _Flight(self, name)

    def clear(self, namespace: str | None = None) -> int:
        return self.invalidate_pattern(f"{namespace}:*" if namespace else "*")


class _Held:
    """Marker: this process holds the fill lock and must fetch."""

    def __init__(self, lock: Lock) -> None:
        self.lock = lock


class _Flight:
    """A per-key lock shared by the threads of one process, dropped when the last one leaves."""

    def __init__(self, cache: Cache, name: str) -> None:
        self.cache, self.name = cache, name

    def __enter__(self) -> None:
        with self.cache._flights_lock:
            slot = self.cache._flights.setdefault(self.name, [threading.Lock(), 0])
            slot[1] += 1
        slot[0].acquire()
        self.slot = slot

    def __exit__(self, *exc: object) -> None:
        self.slot[0].release()
        with self.cache._flights_lock:
            self.slot[1] -= 1
            if self.slot[1] == 0:
                self.cache._flights.pop(self.name, None)


def _tier_of(chain: list[str]) -> TierName:
    if "file" in chain:
        return "warm"
    return "shared" if "redis" in chain else "hot"
