"""One Redis lock: an owner token, a lease that can be renewed, release only by its owner.

`SET key token NX PX lease` takes it; renewal and release are Lua scripts that act only while
the key still holds *our* token, so a holder whose lease ran out can never delete or extend the
lock someone else took over. The token may be chosen (a run id), which makes acquiring
re-entrant for the same owner: a retried step that took the lock before gets it again.
`keep_alive()` renews from a thread and stops the moment its block ends, by any path (SPEC §13).
The key is a full Redis key named in `joelclaw.keys` (`keys.lock(name)` for a plain name).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from joelclaw.errors import JoelclawError

if TYPE_CHECKING:
    import redis

log = logging.getLogger("joelclaw.coordination.locks")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_TAKE_OVER = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LockNotAcquired(JoelclawError):
    """A blocking acquire timed out: someone else holds the lock."""


class Lock:
    """A lease on the Redis key `key` held by `token` (random unless given)."""

    def __init__(self, client: redis.Redis, key: str, lease: float = 30.0, *,
                 token: str | None = None) -> None:
        if lease <= 0:
            raise ValueError("lease must be positive")
        self.client = client
        self.name = self.key = key
        self.lease = lease
        self.token = token or secrets.token_hex(16)

    def __repr__(self) -> str:
        return f"Lock({self.name!r}, lease={self.lease:g})"

    @property
    def _lease_ms(self) -> int:
        return max(1, int(self.lease * 1000))

    def acquire(self, *, blocking: bool = False, timeout: float | None = None,
                interval: float = 0.05) -> bool:
        """Take the lock (or find it already ours); wait up to `timeout` when blocking."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self.client.set(self.key, self.token, nx=True, px=self._lease_ms):
                return True
            if self.renew():  # already ours (a retry, a holder renewing): extended atomically
                return True
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(interval)

    def owned(self) -> bool:
        held = self.client.get(self.key)
        return held is not None and held.decode() == self.token

    def holder(self) -> str | None:
        held = self.client.get(self.key)
        return held.decode() if held is not None else None

    def renew(self, lease: float | None = None) -> bool:
        """Extend the lease; False when the lock is no longer ours (lost or taken over)."""
        ms = self._lease_ms if lease is None else max(1, int(lease * 1000))
        return bool(self.client.eval(_RENEW, 1, self.key, self.token, ms))

    def take_over(self, holder: str) -> bool:
        """Take the lock from `holder` (known to be dead) if it still holds it: a successor
        need not wait out a killed holder's lease, and a lock someone else took meanwhile is
        left alone."""
        return bool(self.client.eval(_TAKE_OVER, 1, self.key, holder, self.token,
                                     self._lease_ms))

    def release(self) -> bool:
        """Delete the lock if, and only if, we still own it."""
        return bool(self.client.eval(_RELEASE, 1, self.key, self.token))

    @contextlib.contextmanager
    def keep_alive(self, interval: float | None = None) -> Iterator[threading.Event]:
        """Renew every `interval` (a third of the lease) while the block runs. The yielded
        event is set if renewal failed (the lock was lost): long work can check it."""
        lost = threading.Event()
        done = threading.Event()
        every = interval or self.lease / 3
        import redis  # here, not at import: declaring a function needs no client

        def renew() -> None:
            while not done.wait(every):
                try:
                    if not self.renew():
                        lost.set()
                        return
                except redis.RedisError as exc:
                    log.warning("lock %s: renewal failed: %s", self.name, exc)
        thread = threading.Thread(target=renew, name=f"lock-{self.name}", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            done.set()
            thread.join(timeout=every + 1)

    def __enter__(self) -> Lock:
        if not self.acquire(blocking=True, timeout=self.lease):
            raise LockNotAcquired(f"lock {self.name!r} is held by someone else")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        import redis

        with contextlib.suppress(redis.RedisError):
            self.release()
