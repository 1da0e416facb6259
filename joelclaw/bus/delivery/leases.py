"""Run leases: proof that a live worker is executing a run (or a parallel member) right now.

Celery on Redis only notices a dead worker after the visibility timeout (an hour by default), and
a short timeout re-delivers tasks that are still running. So every execution holds its own lease,
renewed by one thread per process while it runs; the sweeper wakes targets whose lease expired,
and a worker on the same host takes over at once from a holder whose process is gone.

The same thread tells an execution that its run was cancelled: every `CANCEL_POLL_SECONDS` while
the process holds leases, it reads the cancellations asked of the runs it executes
(`keys.cancel_ask`, one MGET), marks their leases and acknowledges (`keys.cancel_ack`). A step
then starts only if its lease was not marked, with no read of its own: `cancel_run` returns once
the holder acknowledged, so a run whose cancellation was requested starts no new step.

At the same look it sends what an execution held back on its lease (`Lease.hold`: the first
step's "running" record), so only a step still running by then costs that write. `Lease.clean`
says whether the target's previous execution gave its lease back: after one that died, nothing
is held back, so every attempt of a step that kills its process is counted.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import redis

from joelclaw import keys
from joelclaw.bus.delivery.publish import SEP  # a member's target: its run, step, index
from joelclaw.bus.records import wakeups
from joelclaw.bus.records.scripts import Scripts

HOSTNAME = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(eq=False)
class Lease:
    scripts: Scripts
    target: str
    token: str
    ttl: float
    renewed_at: float = field(default_factory=time.monotonic)
    slot_keys: list[str] = field(default_factory=list)  # concurrency slots renewed with it
    paused: bool = False  # the run's function was paused when the lease was taken
    # The reason of a cancellation this execution learned of (set by the renewer's thread).
    cancel_reason: str | None = None
    # The target's previous execution gave its lease back (none died holding it): see hold().
    clean: bool = True
    _held: Callable[[Any], None] | None = None
    _held_lock: threading.Lock = field(default_factory=threading.Lock)

    def args(self) -> list[Any]:
        return [self.token, int(self.ttl * 1000), time.time() + self.ttl, self.target]

    def renew(self) -> bool:
        self.renewed_at = time.monotonic()
        args = self.args()
        renewed = bool(self.scripts.lease_renew(
            keys=[keys.lease(self.target), keys.LEASES], args=args))
        if renewed and self.slot_keys:
            # A slot lives as long as the lease: a dead worker's slot expires with it.
            client = self.scripts.lease_renew.registered_client
            pipe = client.pipeline(transaction=False)
            for key in self.slot_keys:
                pipe.zadd(key, {self.target: args[2]}, xx=True)
            pipe.execute()
        return renewed

    def release(self, pipe: Any = None) -> None:
        """Give the lease back; with `pipe`, batched into that pipeline's round trip.

        Raw EVALSHA in the pipeline: redis-py's Script objects would add a SCRIPT EXISTS round
        trip. If the script cache was flushed (Redis restarted), the caller sees NoScriptError
        and calls release() again without a pipeline.
        """
        _RENEWER.forget(self)
        lease_keys = [keys.lease(self.target), keys.LEASES]
        if pipe is None:
            self.scripts.lease_release(keys=lease_keys, args=[self.token, self.target])
        else:
            pipe.evalsha(self.scripts.lease_release.sha, 2, *lease_keys, self.token, self.target)

    def finish_with(self, commands: list[tuple[Any, ...]]) -> tuple[list[str], list[Any]]:
        """KEYS and ARGV of the script that applies `commands` (an execution's final write) and
        gives the lease back: each command as its word count, then its words."""
        args: list[Any] = [self.token, self.target]
        for command in commands:
            args.append(len(command))
            args.extend(command)
        _RENEWER.forget(self)
        return [keys.lease(self.target), keys.LEASES], args

    def hold(self, write: Callable[[Any], None]) -> None:
        """Defer a write nobody needs at once (an execution's first "running" record): the
        renewer's thread sends it (`write(pipeline)`) at its next look, within
        CANCEL_POLL_SECONDS, if the execution has not taken it back by then."""
        with self._held_lock:
            self._held = write

    def take_back(self) -> bool:
        """Cancel the held write; True if it was never sent (the caller writes what of it
        still matters), False if the renewer sent it (every later write lands after it)."""
        with self._held_lock:
            held, self._held = self._held, None
        return held is not None

    def send_held(self) -> None:
        """The renewer's part: send the held write, under the lock take_back waits on."""
        with self._held_lock:
            if self._held is None:
                return
            pipe = self.scripts.client.pipeline(transaction=False)
            self._held(pipe)
            pipe.execute()
            self._held = None

    @contextlib.contextmanager
    def kept_alive(self) -> Iterator[Lease]:
        """Renewed while the block runs; never again once it ends, however it ends.

        A renewer that outlived its execution (an exception, a failed write during a Redis
        outage) would keep an idle run's lease alive forever, and the run would never resume.
        """
        _RENEWER.watch(self)
        try:
            yield self
        finally:
            _RENEWER.forget(self)


CANCEL_POLL_SECONDS = 0.05  # how often a process holding leases reads their cancellations
IDLE_POLL_SECONDS = 0.25  # how often the renewer looks while the process holds none
ASK_TTL_SECONDS = 600  # a cancellation asked outlives any wait for it (cancel_run)


class _Renewer:
    """One daemon thread per process renews every lease it holds, every third of its TTL, and
    reads the cancellations asked of the runs they are for."""

    def __init__(self) -> None:
        self._leases: set[Lease] = set()
        self._lock = threading.Lock()
        self._pid = 0

    def watch(self, lease: Lease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._pid != os.getpid():  # first use, or first use after a fork
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="joelclaw-leases", daemon=True).start()

    def forget(self, lease: Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _loop(self) -> None:
        while True:
            with self._lock:
                holding = bool(self._leases)
            time.sleep(CANCEL_POLL_SECONDS if holding else IDLE_POLL_SECONDS)
            with self._lock:
                held = list(self._leases)
            now = time.monotonic()
            for lease in held:
                try:
                    if now - lease.renewed_at >= lease.ttl / 3:
                        lease.renew()
                    lease.send_held()
                except Exception:
                    continue  # Redis unreachable: the held write goes with the final write
            try:
                learn_cancellations(held)
            except Exception:
                continue  # Redis unreachable: asked again at the next look


def learn_cancellations(held: list[Lease]) -> list[Lease]:
    """Mark the leases whose run was asked to cancel, and acknowledge each (one MGET, and one
    write per cancellation found); the leases marked now."""
    asking = [lease for lease in held if lease.cancel_reason is None and SEP not in lease.target]
    if not asking:
        return []
    by_client: dict[int, list[Lease]] = {}
    for lease in asking:  # one client per runtime; a process has one outside tests
        by_client.setdefault(id(lease.scripts.client), []).append(lease)
    marked = []
    for group in by_client.values():
        client = group[0].scripts.client
        reasons = client.mget([keys.cancel_ask(lease.target) for lease in group])
        found = [(lease, reason) for lease, reason in zip(group, reasons, strict=True)
                 if reason is not None]
        if not found:
            continue
        pipe = client.pipeline(transaction=False)
        for lease, reason in found:
            lease.cancel_reason = reason.decode() if isinstance(reason, bytes) else str(reason)
            pipe.set(keys.cancel_ack(lease.target), lease.token, ex=ASK_TTL_SECONDS)
            marked.append(lease)
        pipe.execute()
    return marked


_RENEWER = _Renewer()


ScriptCall = Callable[[list[str], list[Any]], Any]  # (KEYS, ARGV) -> the begin script's reply


def begin(
    scripts: Scripts, run_id: str, target: str, ttl: float, call: ScriptCall | None = None
) -> tuple[Lease | None, list[Any]]:
    """Take the lease for `target` and read the run's hash in one round trip.

    Returns (None, []) while another live process holds the lease; else the lease and the
    run hash as a flat list of fields and values (decoded by the run store). `call` sends the
    begin script on a connection the caller already holds (an execution's own: no second
    connection taken from the pool); without it the script goes through the client.
    """
    token = f"{HOSTNAME}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    lease = Lease(scripts, target, token, ttl)
    begin_keys = [keys.lease(target), keys.LEASES, wakeups.SETS.wakeups, keys.run(run_id),
                  wakeups.SETS.outbox, keys.PAUSED]
    if call is None:
        reply = scripts.begin(keys=begin_keys, args=lease.args())
    else:
        reply = call(begin_keys, lease.args())
    if reply[0] == 1:
        lease.paused, lease.clean = bool(reply[2]), bool(reply[3])
        return lease, reply[1]
    if not _steal_from_dead_holder(scripts, lease, reply[1]):
        return None, []
    lease.clean = False  # its holder died during the execution
    client = scripts.begin.registered_client
    pipe = client.pipeline(transaction=False)
    wakeups.forget(pipe, target)
    pipe.hgetall(keys.run(run_id))
    state = pipe.execute()[2]
    function = state.get(b"function")
    lease.paused = bool(function and client.hexists(keys.PAUSED, function))
    return lease, _flat(state)


def _flat(mapping: dict[bytes, bytes]) -> list[bytes]:
    return [item for pair in mapping.items() for item in pair]


def held_by_dead_local_process(holder: bytes | str | None) -> bool:
    """The lease token names this host and a process that is gone (killed with its worker)."""
    if not holder:
        return False
    text = holder.decode() if isinstance(holder, bytes) else holder
    host, _, rest = text.partition(":")
    pid = rest.partition(":")[0]
    return pid.isdigit() and local_process_gone(host, int(pid))


def local_process_gone(host: str, pid: int) -> bool:
    """`host` is this host and its process `pid` is gone (of another host nothing is known)."""
    return host == HOSTNAME and pid > 0 and not _pid_alive(pid)


def _steal_from_dead_holder(scripts: Scripts, lease: Lease, holder: bytes | str) -> bool:
    text = holder.decode() if isinstance(holder, bytes) else holder
    if not held_by_dead_local_process(text):
        return False
    return bool(scripts.lease_steal(keys=[keys.lease(lease.target), keys.LEASES],
                                    args=[text, *lease.args()]))


def acquire(scripts: Scripts, target: str, ttl: float) -> Lease | None:
    """The lease alone (for run control from outside a worker)."""
    lease, _ = begin(scripts, target.split("|")[0], target, ttl)
    return lease


def execute_releasing(pipe: Any, lease: Lease) -> list[Any] | None:
    """Run `pipe` with the lease release appended; re-release if Redis lost its scripts.

    Returns the replies, or None when a script was missing (the caller redoes its own).
    """
    lease.release(pipe)
    try:
        return pipe.execute()
    except redis.exceptions.NoScriptError:
        lease.release()
        return None
