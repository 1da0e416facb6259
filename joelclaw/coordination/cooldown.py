"""One cooldown primitive for every check and notification: act at most once per period.

`cooldown(client, key, period)` is True for the caller that may act now, and starts the period;
every other caller gets False until it has passed. It is one atomic `SET NX PX` on `key` (a full
Redis key named in `joelclaw.keys`; `keys.cooldown(name)` for a plain name) whose value records
when it started, so `remaining()` can say how long is left. Called inside `ctx.step.run(...)` it
shows in the run's trace and is decided once per run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis


def cooldown(client: redis.Redis, key: str, period: float) -> bool:
    """True if the caller may act now (the cooldown starts); False while it runs."""
    if period <= 0:
        return True
    ms = max(1, int(period * 1000))
    return bool(client.set(key, f"{time.time():.3f}", nx=True, px=ms))


def restart(client: redis.Redis, key: str, period: float) -> None:
    """Start the period now, whether or not one was running (an action forced through)."""
    if period > 0:
        client.set(key, f"{time.time():.3f}", px=max(1, int(period * 1000)))


def remaining(client: redis.Redis, key: str) -> float:
    """Seconds until `key` may act again (0 when it may act now)."""
    ms = client.pttl(key)
    return max(0.0, ms / 1000) if ms and ms > 0 else 0.0


def reset(client: redis.Redis, key: str) -> None:
    """End the cooldown early (e.g. the owner asked for the check again)."""
    client.delete(key)
