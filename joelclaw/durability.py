"""How much a Redis crash could lose, read from the server itself, and whether it may evict.

Run state, leases, queues and locks all live in Redis: with AOF off a crash loses everything
since the last snapshot, and a `maxmemory-policy` other than `noeviction` lets Redis drop any of
those keys silently (`volatile-*` policies included: leases and locks carry TTLs). `read()`
asks the server (INFO persistence, CONFIG GET; the embedded Redis's ACL allows both; a managed
Redis that refuses CONFIG is reported from INFO alone, its unknowns as unknown), for `up`'s
banner, `/health`, `joelclaw status` and the dashboard. Workers refuse an evicting policy
unless JOELCLAW_REDIS_ACCEPT_EVICTION says the risk is accepted (`refusal()`).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from joelclaw.errors import ConfigError
from joelclaw.redisconn.errors import reply_errors

if TYPE_CHECKING:
    import redis
    from celery import bootsteps

    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings

log = logging.getLogger(__name__)

EX_CONFIG = 78  # sysexits.h: a configuration error; a supervisor should not just restart
SAFE_POLICY = "noeviction"
FIX = ("set `maxmemory-policy noeviction` on that Redis (redis.conf or `CONFIG SET "
       "maxmemory-policy noeviction`), or JOELCLAW_REDIS_ACCEPT_EVICTION=1 to run anyway")


@dataclass(frozen=True)
class Durability:
    """The persistence and eviction settings of one Redis, and what they mean."""

    aof: bool | None  # None: unknown
    appendfsync: str | None  # always | everysec | no
    snapshots: str | None  # CONFIG GET save, e.g. "3600 1 300 100"; "" none
    policy: str | None  # maxmemory-policy
    maxmemory: int | None  # bytes; 0 none
    replicas: int | None  # replicas connected to this primary
    loss_window: str  # in words: what a crash of this server can lose
    loss_seconds: float | None  # the same as a bound in seconds; None: unbounded or unknown
    evicting: bool  # the policy may drop keys
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "warnings": list(self.warnings)}

    def summary(self) -> str:
        """One line for banners and `joelclaw status`."""
        aof = "unknown" if self.aof is None else (
            f"on ({self.appendfsync or 'fsync unknown'})" if self.aof else "off")
        return (f"AOF {aof}, maxmemory-policy {self.policy or 'unknown'}; a crash loses "
                f"{self.loss_window}")


def _config(client: redis.Redis, name: str) -> str | None:
    try:
        value = client.config_get(name).get(name)
    except reply_errors():  # CONFIG refused (a managed Redis, an ACL)
        return None
    return None if value is None else str(value)


def loss(aof: bool | None, appendfsync: str | None, snapshots: str | None
         ) -> tuple[str, float | None]:
    """What a crash loses, in words and as a bound in seconds (None: unbounded or unknown)."""
    if aof:
        if appendfsync == "always":
            return "nothing acknowledged (every write is fsynced)", 0.0
        if appendfsync == "everysec":
            return "at most the last ~2 s of writes (appendfsync everysec)", 2.0
        if appendfsync == "no":
            return "the writes the OS has not flushed yet (appendfsync no: ~30 s)", 30.0
        return "an unknown window (AOF on, appendfsync unknown)", None
    if aof is None:
        return "an unknown window (persistence could not be read)", None
    rules = (snapshots or "").split()
    if not rules:
        return "everything (no AOF, no snapshots)", None
    longest = max(float(seconds) for seconds in rules[0::2])
    return (f"everything since the last snapshot (no AOF; snapshot rules {snapshots!r}: up to "
            f"{longest:.0f} s, or longer if few keys change)"), None


def read(client: redis.Redis) -> Durability:
    """Ask the server; never raises for a refused CONFIG (redis errors reaching it do)."""
    info = client.info("persistence")
    aof_raw = _config(client, "appendonly")
    aof: bool | None = (aof_raw == "yes") if aof_raw is not None else (
        bool(info["aof_enabled"]) if "aof_enabled" in info else None)
    appendfsync = _config(client, "appendfsync")
    snapshots = _config(client, "save")
    policy = _config(client, "maxmemory-policy")
    maxmemory_raw = _config(client, "maxmemory")
    maxmemory = int(maxmemory_raw) if maxmemory_raw and maxmemory_raw.isdigit() else None
    try:
        replicas: int | None = int(client.info("replication").get("connected_slaves", 0))
    except reply_errors():
        replicas = None
    window, seconds = loss(aof, appendfsync, snapshots)
    evicting = policy is not None and policy != SAFE_POLICY
    warnings: list[str] = []
    if evicting:
        warnings.append(f"maxmemory-policy is {policy!r}: Redis may evict queued runs, leases "
                        f"and locks when memory runs short; {FIX}")
    if policy is None:
        warnings.append("maxmemory-policy could not be read (CONFIG GET refused): make sure "
                        "it is noeviction")
    if aof is False:
        warnings.append(f"AOF is off: a crash loses {window}; set `appendonly yes` "
                        "(with appendfsync everysec)")
    return Durability(aof, appendfsync, snapshots, policy, maxmemory, replicas, window, seconds,
                      evicting, tuple(warnings))


class EvictingRedis(ConfigError):
    """The Redis may evict keys and nothing accepted that risk: exit EX_CONFIG (78)."""


def describe(url: str, settings: Settings | None = None) -> str:
    """The one-line summary for a banner, or why it could not be read."""
    import redis

    from joelclaw import redisconn

    client = redisconn.connect(url, settings, socket_connect_timeout=3, socket_timeout=5)
    try:
        return read(client).summary()
    except (redis.RedisError, ValueError) as exc:
        return f"unknown ({type(exc).__name__})"
    finally:
        client.close()


def refusal(found: Durability, accept_eviction: bool) -> str | None:
    """Why a worker must not start on this Redis (None: it may)."""
    if not found.evicting or accept_eviction:
        return None
    return (f"refusing to start: Redis maxmemory-policy is {found.policy!r}, so it may silently "
            f"evict run state, leases, queued runs and locks. Fix: {FIX}.")


def worker_step(bus: Bus) -> type[bootsteps.Step]:
    """A worker bootstep: log the durability at start; exit 78 (EX_CONFIG) on an evicting
    policy unless accepted. An unreachable Redis is the broker connection's business.
    (Celery is imported here: `up`'s supervisor reads durability without loading it.)"""
    import redis
    from celery import bootsteps

    def __init__(self: bootsteps.Step, worker: Any, **kwargs: Any) -> None:
        try:
            found = read(bus.redis)
        except redis.RedisError as exc:
            log.warning("Redis durability not checked (%s): the worker starts anyway", exc)
            return
        log.info("Redis durability: %s", found.summary())
        for warning in found.warnings:
            log.warning("Redis durability: %s", warning)
        reason = refusal(found, bus.settings.redis.accept_eviction)
        if reason:
            log.critical(reason)
            print(f"joelclaw worker: {reason}", file=sys.stderr, flush=True)
            raise SystemExit(EX_CONFIG)

    return type("DurabilityCheck", (bootsteps.Step,), {"__init__": __init__})
