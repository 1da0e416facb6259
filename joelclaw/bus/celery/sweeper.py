"""The sweeper: one thread in every worker's main process that makes durable time happen.

Each tick it wakes targets whose lease expired (their worker died), claims due wake-ups
(sleeps, retry back-offs, wait timeouts, outbox entries, debounce/batch timers) atomically and
publishes them, indexes the events sent meanwhile for search, and now and then prunes expired
runs from the indexes. When a worker process of this host died, the runs published but not begun
whose messages the broker no longer holds are published again at once (see
`Sweeper.notice_dead_local_workers`), not after the outbox's grace. Safe on every worker at once:
a claim pushes the wake-up into the future, so two sweepers never publish the same one, and a
sweeper that dies mid-claim leaves it to fire again (at least once, never lost).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from celery import bootsteps, signals
from celery.worker import state as worker_state

from joelclaw import keys
from joelclaw.bus.celery.queues import waiting_targets
from joelclaw.bus.control import actions as control
from joelclaw.bus.delivery import leases
from joelclaw.bus.delivery.publish import parse_target
from joelclaw.bus.flow import absence, timers
from joelclaw.bus.functions.registry import TASK_PREFIX
from joelclaw.bus.records import metrics, presence, wakeups
from joelclaw.bus.records.runs import TERMINAL
from joelclaw.errors import JoelclawError
from joelclaw.events import index_backlog
from joelclaw.events import store as events

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.sweeper")

PRUNE_EVERY = 60.0
BATCH = 500
HOLDERS_EVERY = 1.0  # how often leases of dead processes on this host are looked for
HOLDERS_BATCH = 1000
BROKER_VIEW_SECONDS = 10.0  # how stale the view of the broker's queues may be (at most a
# quarter of the safety period, so another sweeper never acts on a view older than a republish)


class Sweeper:
    """Publishes due wake-ups and revives runs with expired leases."""

    def __init__(self, rt: Bus, poll: float | None = None, node: str | None = None,
                 queues: Callable[[], Iterable[str]] | None = None):
        self.rt = rt
        self.node = node or socket.gethostname()
        self.queues = queues or (lambda: ())  # what this node consumes, read at each stamp
        self.poll = poll or rt.settings.runs.scheduler_poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0
        self._last_holders = 0.0
        self._revoked: set[str] = set()  # task ids whose runs were cancelled already
        self._broker_view: set[str] = set()
        self._broker_seen_at = float("-inf")
        self._dead_seen: set[tuple[str, int]] = set()  # (node, pid): deaths acted on already

    _absences_armed = False  # key-less absence triggers are armed by the first tick

    def tick(self) -> int:
        now = time.time()
        if not self._absences_armed:
            absence.arm_unkeyed(self.rt, now)
            self._absences_armed = True
        scripts = self.rt.scripts
        scripts.expired_leases(keys=[keys.LEASES, wakeups.SETS.wakeups],
                               args=[now, keys.lease(""), BATCH, keys.run("")])
        published = self._wake_due(now) + self._check_outbox(now)
        try:
            index_backlog.catch_up(self.rt.redis, rounds=4)  # the logs, run indexes, search
        except Exception:
            log.exception("could not index the events and runs sent meanwhile; the next tick "
                          "will")
        try:
            metrics.catch_up(self.rt.redis, rounds=4)  # the counters' backlog
        except Exception:
            log.exception("could not count the runs ended meanwhile; the next tick will")
        if now - self._last_prune > PRUNE_EVERY:
            self._last_prune = now
            self.prune()
        if now - self._last_holders > HOLDERS_EVERY:
            self._last_holders = now
            self.revive_dead_local_holders(now)
            self.notice_dead_local_workers(now)
            self._revoked_running()
        return published

    def _wake_due(self, now: float) -> int:
        """Sleeps, retries, rechecks and timers that came due: publish each (a run then keeps a
        safety entry in the outbox until an execution begins)."""
        due, claim_until = wakeups.claim_due(self.rt.scripts, now, BATCH)
        published = 0
        for target, due_at in due.items():
            try:
                if target.startswith(absence.PREFIX):  # an absence trigger's deadline
                    absence.fire(self.rt, target)
                elif target.startswith(keys.FLOW_TIMER):  # a debounce or batch timer
                    timers.fire(self.rt, target)
                elif self._publish(target, due_at, now):
                    published += 1
            except Exception:
                log.exception("could not publish wake-up for %s", target)
                continue
            wakeups.settle(self.rt.scripts, target, claim_until, "")
        return published

    def _check_outbox(self, now: float, *, ahead: bool = False) -> int:
        """Published runs that have not started within the safety period: a backlog waits on,
        a message that is gone (a sender that died, `celery purge`) is published again.

        `ahead`: every published run not begun, however recent, against a fresh look at the
        broker in which a message held by a worker counts as gone (a worker died: see
        `notice_dead_local_workers`); one still queued keeps its safety time."""
        due, claim_until = wakeups.claim_due(self.rt.scripts, now, BATCH, outbox=True,
                                             upto=float("inf") if ahead else None)
        if not due:
            return 0
        waiting = self._still_in_broker(list(due), held_within=0.0 if ahead else None)
        safety = now + self.rt.settings.runs.outbox_grace_seconds
        published = 0
        for target, due_at in due.items():
            try:
                if target in waiting:
                    next_due: float | str = due_at if due_at > now else safety
                elif self._publish(target, min(due_at, now), now):
                    published, next_due = published + 1, safety
                else:
                    next_due = ""  # the run is gone or ended
            except Exception:
                log.exception("could not publish outbox entry %s", target)
                continue
            wakeups.settle(self.rt.scripts, target, claim_until, next_due, outbox=True)
        return published

    def _publish(self, target: str, due_at: float, now: float) -> bool:
        # The safety entry goes first, as everywhere else: an execution that begins the moment
        # the message is out removes it; written after, it would outlive that execution.
        wakeups.guard(self.rt.redis, {target: now + self.rt.settings.runs.outbox_grace_seconds},
                      earlier_only=True)
        if not self.rt.publish(target, ready_at=due_at):
            # A run that is gone: nothing to watch. One handed on (a process behind the last
            # reload wakes it again shortly) keeps that wake-up and its safety entry.
            if self.rt.runs.route(parse_target(target)[0]) is None:
                wakeups.forget(self.rt.redis, target)
            return False
        self._broker_view.add(target)  # it is in the broker now, whatever the last look saw
        return True

    def _still_in_broker(self, targets: list[str], *, held_within: float | None = None
                         ) -> set[str]:
        """Which of these runs still sit in the broker unstarted (a backlog longer than the
        safety period); the broker is read at most every few seconds, only when needed.
        `held_within`: read the broker now, counting a message held longer than that as gone
        (that view is not kept)."""
        statuses = self.rt.runs.statuses([parse_target(t)[0] for t in targets])
        live = [t for t, status in zip(targets, statuses, strict=True)
                if status is not None and status not in TERMINAL]
        if not live:
            return set()
        names = sorted({fn.queue for fn in self.rt.registry} | {keys.FUNCTION_QUEUE})
        if held_within is not None:
            view = waiting_targets(self.rt, names, held_within=held_within) or set()
            return {t for t in live if t in view}
        max_age = min(BROKER_VIEW_SECONDS, self.rt.settings.runs.outbox_grace_seconds / 4)
        if time.monotonic() - self._broker_seen_at > max_age:
            # A message a worker has held longer than the grace without its run beginning is
            # held by a worker that died: the run is published again (a second delivery of a
            # run is harmless, its lease decides), not left queued for the visibility timeout.
            grace = self.rt.settings.runs.outbox_grace_seconds
            self._broker_view = waiting_targets(self.rt, names, held_within=grace) or set()
            self._broker_seen_at = time.monotonic()
        return {t for t in live if t in self._broker_view}

    def cancel_revoked(self, name: str, request: Any, how: str, *, wait: bool = True) -> None:
        """Cancel the run of a function execution Celery was told to revoke (once per task);
        `wait=False` from the worker's event loop (see `control.cancel_run`)."""
        args = getattr(request, "args", None) or []
        if not str(name).startswith(TASK_PREFIX) or not args or request.id in self._revoked:
            return
        self._revoked.add(request.id)
        try:
            control.cancel_run(self.rt, str(args[0]), f"{how}: task {request.id}", wait=wait)
        except JoelclawError as exc:
            log.warning("could not cancel the run of revoked task %s: %s", request.id, exc)

    def _revoked_running(self) -> None:
        """Executions this worker runs that a `celery control revoke` flagged (no signal fires
        for a running task that is not terminated)."""
        for request in list(worker_state.active_requests):
            if request.id in worker_state.revoked and request.id not in self._revoked:
                self.cancel_revoked(request.name, request, "revoked by celery control")

    def revive_dead_local_holders(self, now: float) -> int:
        """Wake at once the runs whose lease a process of this host held and that is gone (its
        whole worker was killed): the execution that picks them up takes the lease over,
        instead of waiting for it to expire. One already published and not begun (its outbox
        entry: a backlog ahead of it) or already due is left to that: waking it at every look
        would add a message per second while it waits."""
        targets = [t.decode() for t in self.rt.redis.zrange(keys.LEASES, 0, HOLDERS_BATCH - 1)]
        if not targets:
            return 0
        holders = self.rt.redis.mget([keys.lease(t) for t in targets])
        held_dead = [t for t, h in zip(targets, holders, strict=True)
                     if leases.held_by_dead_local_process(h)]
        if not held_dead:
            return 0
        dead = {t: now for t, (due, guarded) in zip(held_dead, wakeups.times(
                    self.rt.redis, held_dead), strict=True)
                if guarded is None and (due is None or due > now)}
        if dead:
            wakeups.schedule(self.rt.redis, dead)
            log.info("waking %d run(s) whose worker on this host died", len(dead))
        return len(dead)

    def notice_dead_local_workers(self, now: float) -> int:
        """When a worker process of this host that stamped its presence lately is gone, check
        the outbox at once; the number of runs published again.

        kombu's Redis transport takes a message with BRPOP: a worker killed while its BRPOP
        waits still has its connection open for a moment, and Redis hands the next message
        pushed to that queue to the dead process. That message is then nowhere in the broker;
        and one the dead worker held without beginning its run was in its memory only (a run's
        message is never in kombu's `unacked` record: joelclaw.bus.celery.broker). Both runs
        have an outbox entry (published, not begun), which would publish them again only after
        the outbox's grace (minutes). So a death of a worker on this host is noticed here (its
        stamp names this host and a pid that is gone), by any worker of the host, the restarted
        one included, and every published run not begun whose message is not queued is
        published again now. A second message of a run that a live worker just took is
        harmless: the run's lease decides, the other execution does nothing.
        """
        if self.rt.broker_url.startswith("amqp"):
            return 0  # RabbitMQ gives a dead consumer's messages back itself
        grace = self.rt.settings.runs.outbox_grace_seconds
        dead = []
        for node, seen in presence.read_all(self.rt.redis).items():
            pid, host = seen.pid, seen.host
            if pid is None or host is None:
                continue  # an older stamp, without its process and host
            key = (node, pid)
            # An older death than the grace is the outbox's own business by now.
            if key in self._dead_seen or pid == os.getpid() or now - seen.at > grace:
                continue
            if leases.local_process_gone(host, pid):
                self._dead_seen.add(key)
                dead.append(key[0])
        if not dead:
            return 0
        published = self._check_outbox(now, ahead=True)
        log.info("a worker of this host died (%s): %d run(s) published but not begun were "
                 "published again", ", ".join(sorted(dead)), published)
        return published

    def prune(self) -> None:
        """Cap the event logs (with the finished runs of the events capped away) and drop
        expired runs from the indexes; one worker at a time. The index backlog is applied
        first, whole: an entry applied after its event or run was pruned would point at
        nothing."""
        if self.rt.redis.set(keys.RETENTION_LOCK, "1", nx=True, ex=int(PRUNE_EVERY)):
            index_backlog.catch_up(self.rt.redis)
            started = events.prune(self.rt.redis, self.rt.settings.runs.event_log_cap)
            self.rt.runs.forget_finished(started)
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
        seen, which queues it consumes (its roles derive from them) and the process stamping
        (a restart shows as a new pid, however quick) on which host (so the sweepers of that
        host can tell when it died)."""
        return presence.stamp(self.queues(), os.getpid(), leases.HOSTNAME,
                              self.rt.code.presence())

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
    """Runs the sweeper in every worker's main process, started and stopped with the worker,
    and turns Celery's own controls into run control: `celery control revoke <task id>` on an
    execution cancels its run (at the next step boundary, through `control.cancel_run`, stored
    in Redis since revokes live in worker memory), and `control terminate` records the run as
    cancelled rather than as a worker death that would use up its attempts.

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
        signals.task_revoked.connect(self._revoked, weak=False,
                                     dispatch_uid=f"joelclaw-revoked-{id(self)}")

    def stop(self, worker: Any) -> None:
        signals.task_revoked.disconnect(dispatch_uid=f"joelclaw-revoked-{id(self)}")
        if self.sweeper is not None:
            self.sweeper.stop()

    def _revoked(self, sender: Any = None, request: Any = None, terminated: bool = False,
                 signum: Any = None, expired: bool = False, **_: Any) -> None:
        """A revoked execution that was waiting, or one that was terminated: cancel its run."""
        if request is None or expired or self.sweeper is None:
            return
        how = f"terminated by celery control (signal {signum})" if terminated else \
            "revoked by celery control"
        self.sweeper.cancel_revoked(getattr(sender, "name", ""), request, how, wait=False)


def sweeper_step(bus: Bus) -> type[SweeperStep]:
    return type("SweeperStep", (SweeperStep,), {"bus": bus})
