"""Durable time: wake-ups live in a Redis sorted set and are published when due.

Celery's ETA/countdown is never used for delays: on Redis an ETA message sits unacknowledged in a
worker and is redelivered after the visibility timeout, so it runs twice. Instead every sleep,
retry back-off, wait timeout and outbox entry is a member of `jc:wakeups` scored by its due time;
each worker's sweeper thread claims due members atomically and publishes them. The same sweeper
wakes runs whose lease expired because their worker died.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.bus.functions import Function

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime

log = logging.getLogger("joelclaw.scheduler")

SEP = "|"
DEFAULT_PRIORITY = 5  # on Redis 0 is the highest: leave room above and below the default
PRUNE_EVERY = 60.0


def target_for(run_id: str, member: tuple[str, int] | None = None) -> str:
    return run_id if member is None else f"{run_id}{SEP}{member[0]}{SEP}{member[1]}"


def parse_target(target: str) -> tuple[str, tuple[str, int] | None]:
    parts = target.split(SEP)
    if len(parts) == 3:
        return parts[0], (parts[1], int(parts[2]))
    return target, None


def broker_priority(rt: Runtime, level: int = DEFAULT_PRIORITY) -> int:
    """Our levels are Redis's (0 highest); AMQP counts the other way round."""
    level = max(0, min(9, level))
    broker = rt.settings.effective_broker_url if rt.settings.broker_url else "redis://"
    return 9 - level if broker.startswith("amqp") else level


def wake(rt: Runtime, target: str, at: float) -> None:
    """Make `target` runnable at `at`; an earlier pending wake-up wins (ZADD LT)."""
    rt.redis.zadd(keys.WAKEUPS, {target: at}, lt=True)


def publish_run(
    rt: Runtime,
    fn: Function,
    run_id: str,
    *,
    member: tuple[str, int] | None = None,
    ready_at: float | None = None,
    priority: int = DEFAULT_PRIORITY,
) -> None:
    rt.celery.send_task(
        fn.task_name,
        args=[run_id],
        kwargs={"member": list(member) if member else None, "ready_at": ready_at or time.time()},
        queue=fn.queue,
        priority=broker_priority(rt, priority),
    )


def publish(rt: Runtime, target: str, *, ready_at: float | None = None) -> bool:
    if target.startswith(keys.FLOW_TIMER):  # a debounce or batch timer, not a run
        from joelclaw.bus.flow import timers

        return timers.fire(rt, target)
    run_id, member = parse_target(target)
    raw, level = rt.redis.hmget(keys.run(run_id), "function", "priority")
    if raw is None:
        return False  # expired or deleted run: nothing to wake
    fn = rt.function(raw.decode().strip('"'))
    if fn is None:
        log.error("run %s belongs to function %s, which this process does not know", run_id, raw)
        return False
    priority = int(level) if level and level != b"null" else DEFAULT_PRIORITY
    publish_run(rt, fn, run_id, member=member, ready_at=ready_at, priority=priority)
    return True


class Sweeper:
    """Publishes due wake-ups and revives runs with expired leases; safe to run on every worker."""

    def __init__(self, rt: Runtime, poll: float | None = None, node: str | None = None,
                 queues: Callable[[], Iterable[str]] | None = None):
        self.rt = rt
        self.node = node or _hostname()
        self.queues = queues or (lambda: ())  # what this node consumes, read at each stamp
        self.poll = poll or rt.settings.scheduler_poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    def tick(self) -> int:
        now = time.time()
        scripts = self.rt.scripts
        scripts.expired_leases(
            keys=[keys.LEASES, keys.WAKEUPS], args=[now, keys.lease(""), 500]
        )
        claim_until = now + keys.WAKE_CLAIM_SECONDS
        claimed = scripts.claim_due(keys=[keys.WAKEUPS], args=[now, claim_until, 500])
        published = 0
        for i in range(0, len(claimed), 2):
            target, due = claimed[i].decode(), float(claimed[i + 1])
            try:
                self.rt.publish(target, ready_at=due)
                published += 1
            except Exception:
                log.exception("could not publish wake-up for %s", target)
                continue
            scripts.finish_claim(keys=[keys.WAKEUPS], args=[target, claim_until])
        if now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            self.prune()
        return published

    def prune(self) -> None:
        """Drop expired runs from the indexes; one worker at a time."""
        if self.rt.redis.set(keys.SWEEP_LOCK, "1", nx=True, ex=int(PRUNE_EVERY)):
            self.rt.runs.prune_index()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="joelclaw-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def presence(self) -> str:
        """This node's `keys.WORKERS_SEEN` entry, read by `joelclaw.health`: when it was last
        seen and which queues it consumes (its roles derive from them)."""
        return json.dumps({"at": time.time(), "queues": sorted(self.queues())})

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
                self.rt.redis.hset(keys.WORKERS_SEEN, self.node, self.presence())
            except Exception:
                log.exception("sweeper tick failed")
                self._stop.wait(2)
            self._stop.wait(self.poll)


def _hostname() -> str:
    import socket

    return socket.gethostname()
