"""The services every function's context offers, whatever extensions are installed: cooldowns
and locks by name, so a function never builds a Redis key (`ctx.cooldown`, `ctx.lock(...)`).

Names are plain words (`"health:fatal"`, `f"media:processed:{media_id}"`); the Redis keys they
become are in `joelclaw.keys` (`keys.cooldown(name)`, `keys.lock(name)`), like every key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.coordination import cooldown
from joelclaw.coordination.locks import Lock

if TYPE_CHECKING:
    import redis


class Cooldowns:
    """`ctx.cooldown`: act at most once per period, by name, across workers and runs.

    Call it inside a step (`ctx.step.run("claim", ctx.cooldown.claim, "vault", 3600)`) so the
    decision shows in the trace and a replay keeps it."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def claim(self, name: str, seconds: float) -> bool:
        """True for the caller that may act now (the period starts); False while it runs."""
        return cooldown.cooldown(self._redis, keys.cooldown(name), seconds)

    def restart(self, name: str, seconds: float) -> None:
        """Start the period now, whether or not one was running."""
        cooldown.restart(self._redis, keys.cooldown(name), seconds)

    def remaining(self, name: str) -> float:
        """Seconds until `name` may act again (0: now)."""
        return cooldown.remaining(self._redis, keys.cooldown(name))

    def reset(self, name: str) -> None:
        """End the period early (the next claim succeeds)."""
        cooldown.reset(self._redis, keys.cooldown(name))


def named_lock(client: redis.Redis, name: str, lease: float, token: str | None) -> Lock:
    """`ctx.lock(name)`: the lock called `name` (see `joelclaw.coordination.locks.Lock`)."""
    return Lock(client, keys.lock(name), lease, token=token)
