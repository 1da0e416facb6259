"""The tiered cache (SPEC §8, ADR-0112): hot in-process, shared Redis, warm files.

    from joelclaw.cache import cached, get, set, invalidate, invalidate_pattern

    @cached("todoist", ttl=300)              # hot + Redis
    def project(project_id: str) -> dict: ...

    @cached("transcripts", ttl=3600, tier="warm")   # + the file tier
    def transcript(meeting_id: str) -> dict: ...

Values must be JSON-able. The default cache is built once per process from the settings (Redis
as `joelclaw up` recorded it, files under JOELCLAW_CACHE_DIR); `cache_for(runtime)` gives the one
for a runtime. Counters: `read_stats(redis)` (for /metrics and `joelclaw cache stats`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from joelclaw.cache.core import CHAINS, Cache, TierName
from joelclaw.cache.stats import read_stats, reset_stats

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

__all__ = ["CHAINS", "Cache", "cache_for", "cached", "default_cache", "get",
           "invalidate", "invalidate_pattern", "read_stats", "reset_stats", "set",
           "set_default_cache"]

P = ParamSpec("P")
R = TypeVar("R")
_default: dict[int, Cache] = {}
_lock = threading.Lock()
_by_runtime: weakref.WeakKeyDictionary[Any, Cache] = weakref.WeakKeyDictionary()


def cache_for(rt: Bus) -> Cache:
    """The cache of a runtime: its Redis, its settings' directory and TTLs."""
    with _lock:
        found = _by_runtime.get(rt)
        if found is None:
            s = rt.settings
            found = _by_runtime[rt] = Cache(rt.redis, s.cache_home,
                                            default_ttl=s.cache.hot_ttl_seconds,
                                            warm_ttl=s.cache.warm_ttl_seconds)
        return found


def default_cache() -> Cache:
    """The process's cache from the environment's settings (one per pid: forks get their own)."""
    with _lock:
        found = _default.get(os.getpid())
    if found is not None:
        return found
    import redis

    from joelclaw import redisconn
    from joelclaw.config import load_settings, resolve_redis_url
    from joelclaw.errors import ConfigError

    s = load_settings()
    try:
        client: redis.Redis | None = redisconn.connect(
            resolve_redis_url(s), s, socket_connect_timeout=3, socket_timeout=15)
    except ConfigError:  # no Redis anywhere: hot and file tiers only
        client = None
    return set_default_cache(Cache(client, s.cache_home, default_ttl=s.cache.hot_ttl_seconds,
                                   warm_ttl=s.cache.warm_ttl_seconds))


def set_default_cache(cache: Cache) -> Cache:
    with _lock:
        _default[os.getpid()] = cache
    return cache


def get(namespace: str, key: str, default: Any = None, *, tier: TierName = "shared") -> Any:
    return default_cache().get(namespace, key, default, tier=tier)


def set(namespace: str, key: str, value: Any, *, ttl: float | None = None,
        tier: TierName = "shared") -> bool:
    return default_cache().set(namespace, key, value, ttl=ttl, tier=tier)


def invalidate(namespace: str, key: str) -> None:
    default_cache().invalidate(namespace, key)


def invalidate_pattern(pattern: str) -> int:
    return default_cache().invalidate_pattern(pattern)


def call_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A stable key for a call: the SHA-256 of its arguments as JSON."""
    raw = json.dumps([args, kwargs], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def cached(namespace: str, *, ttl: float | None = None, tier: TierName = "shared",
           key: Callable[..., str] | None = None, warm_ttl: float | None = None,
           cache: Cache | Callable[[], Cache] | None = None
           ) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Cache a function's JSON-able result per arguments, with stampede protection."""
    if tier not in CHAINS:
        raise ValueError(f"unknown cache tier {tier!r}: use one of {', '.join(CHAINS)}")

    def resolve() -> Cache:
        if cache is None:
            return default_cache()
        return cache if isinstance(cache, Cache) else cache()

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            name = key(*args, **kwargs) if key else call_key(args, kwargs)
            return resolve().fetch(namespace, name, lambda: fn(*args, **kwargs), ttl=ttl,
                                   tier=tier, warm_ttl=warm_ttl)

        def invalidate_call(*args: Any, **kwargs: Any) -> None:
            resolve().invalidate(namespace, key(*args, **kwargs) if key else
                                 call_key(args, kwargs))

        wrapper.invalidate = invalidate_call  # type: ignore[attr-defined]  # as lru_cache's cache_clear
        return wrapper

    return decorate
