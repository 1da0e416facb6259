"""The sweeper: one thread in every worker's main process that makes durable time happen.

Each tick it wakes targets whose lease expired (their worker died), claims due wake-ups
(sleeps, retry back-offs, wait timeouts, outbox entries, debounce/batch timers) atomically and
publishes them, and now and then prunes expired runs from the indexes. Safe on every worker at
once: a claim pushes the wake-up into the future, so two sweepers never publish the same one,
and a sweeper that dies mid-claim leaves it to fire again (at least once, never lost).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from celery import bootsteps

from joelclaw import keys
from joelclaw.bus.flow import timers
from joelclaw.events import store as events

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.sweeper")

PRUNE_EVERY = 60.0
BATCH = 500


class Sweeper:
    """Publishes due wake-ups and revives runs with expired leases."""

    def __init__(self, rt: Bus, poll: float | None = None, node: str | None = None,
                 queues: Callable[[], Iterable[str]] | None = None):
        self.rt = rt
        self.node = node or socket.gethostname()
        self.queues = queues or (lambda: ())  # what this node consumes, read at each stamp
        self.poll = poll or rt.settings.scheduler_poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    def tick(self) -> int:
        now = time.time()
        scripts = self.rt.scripts
        scripts.expired_leases(keys=[keys.LEASES, keys.WAKEUPS], args=[now, keys.lease(""), BATCH])
        claim_until = now + keys.WAKE_CLAIM_SECONDS
        claimed = scripts.claim_due(keys=[keys.WAKEUPS], args=[now, claim_until, BATCH])
        published = 0
        for i in range(0, len(claimed), 2):
            target, due = claimed[i].decode(), float(claimed[i + 1])
            try:
                self._fire(target, due)
                published += 1
            except Exception:
                log.exception("could not publish wake-up for %s", target)
                continue
            scripts.finish_claim(keys=[keys.WAKEUPS], args=[target, claim_until])
        if now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            self.prune()
        return published

    def _fire(self, target: str, due: float) -> None:
        if target.startswith(keys.FLOW_TIMER):  # a debounce or batch timer, not a run
            timers.fire(self.rt, target)
        else:
            self.rt.publish(target, ready_at=due)

    def prune(self) -> None:
        """Cap the event logs and drop expired runs from the indexes; one worker at a time."""
        if self.rt.redis.set(keys.RETENTION_LOCK, "1", nx=True, ex=int(PRUNE_EVERY)):
            events.prune(self.rt.redis, self.rt.settings.event_log_cap)
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


class SweeperStep(bootsteps.StartStopStep):
    """Runs the sweeper in every worker's main process, started and stopped with the worker.

    Bound to its bus with `sweeper_step(bus)`, which the Celery app factory adds to the worker.
    """

    requires = {"celery.worker.components:Pool"}
    bus: Bus

    def __init__(self, worker: Any, **kwargs: Any):
        super().__init__(worker, **kwargs)
        self.sweeper: Sweeper | None = None

    def start(self, worker: Any) -> None:
        queues = worker.app.amqp.queues
        self.sweeper = Sweeper(self.bus, node=worker.hostname,
                               queues=lambda: list(queues.consume_from))
        self.sweeper.start()

    def stop(self, worker: Any) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()


def sweeper_step(bus: Bus) -> type[SweeperStep]:
    return type("SweeperStep", (SweeperStep,), {"bus": bus})
