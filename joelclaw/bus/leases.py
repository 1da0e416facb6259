"""Run leases: proof that a live worker is executing a run (or a parallel member) right now.

Celery on Redis only notices a dead worker after the visibility timeout (an hour by default), and
a short timeout re-delivers tasks that are still running. So every execution holds its own lease,
renewed by a thread while it runs; the sweeper wakes targets whose lease expired, and a worker on
the same host takes over at once from a holder whose process is gone.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from joelclaw import keys
from joelclaw.bus.scripts import Scripts

HOSTNAME = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Lease:
    def __init__(self, scripts: Scripts, target: str, token: str, ttl: float):
        self.scripts, self.target, self.token, self.ttl = scripts, target, token, ttl
        self._stop = threading.Event()
        self.lost = False

    def _args(self) -> tuple[list[str], list[object]]:
        expiry = time.time() + self.ttl
        return [keys.lease(self.target), keys.LEASES], [
            self.token, int(self.ttl * 1000), expiry, self.target,
        ]

    def renew(self) -> bool:
        key_list, args = self._args()
        ok = bool(self.scripts.lease_renew(keys=key_list, args=args))
        self.lost = self.lost or not ok
        return ok

    def release(self) -> None:
        self._stop.set()
        self.scripts.lease_release(
            keys=[keys.lease(self.target), keys.LEASES], args=[self.token, self.target]
        )

    @contextmanager
    def kept_alive(self) -> Iterator[Lease]:
        """Renew every third of the TTL from a daemon thread while the body runs."""
        thread = threading.Thread(target=self._renew_loop, name="joelclaw-lease", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=2)

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
            except Exception:
                continue


def acquire(scripts: Scripts, target: str, ttl: float) -> Lease | None:
    """The lease for `target`, or None while another live process holds it."""
    token = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    lease = Lease(scripts, target, token, ttl)
    key_list, args = lease._args()
    if scripts.lease_acquire(keys=key_list, args=args):
        return lease
    holder = scripts.lease_acquire.registered_client.get(keys.lease(target))
    if holder is None:
        return None
    host, _, rest = holder.decode().partition(":")
    pid = rest.partition(":")[0]
    dead_here = host == HOSTNAME and pid.isdigit() and not _pid_alive(int(pid))
    if dead_here and scripts.lease_steal(keys=key_list, args=[holder, token, *args[1:]]):
        return lease
    return None
