"""Putting runs on the broker, and durable wake-ups for later.

A target is a run id, or `<run>|<step>|<index>` for one member of a parallel step. Every message
carries an explicit priority (on Redis one sent without counts as the highest), and delays are
never Celery ETA/countdown: on Redis an ETA message sits unacknowledged in a worker and is
redelivered after the visibility timeout, so it runs twice. A later start is a durable
wake-up (joelclaw.bus.records.wakeups), which the sweeper publishes when due.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from joelclaw.bus.records import wakeups

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.publish")

SEP = "|"
DEFAULT_PRIORITY = 5  # on Redis 0 is the highest: leave room above and below the default


def target_for(run_id: str, member: tuple[str, int] | None = None) -> str:
    return run_id if member is None else f"{run_id}{SEP}{member[0]}{SEP}{member[1]}"


def parse_target(target: str) -> tuple[str, tuple[str, int] | None]:
    parts = target.split(SEP)
    if len(parts) == 3:
        return parts[0], (parts[1], int(parts[2]))
    return target, None


def is_amqp(url: str) -> bool:
    return url.startswith(("amqp://", "amqps://"))


def broker_priority(bus: Bus, level: int = DEFAULT_PRIORITY) -> int:
    """Our levels are Redis's (0 highest); AMQP counts the other way round."""
    level = max(0, min(9, level))
    return 9 - level if is_amqp(bus.broker_url) else level


def wake(bus: Bus, target: str, at: float) -> None:
    """Make `target` runnable at `at`; an earlier pending wake-up wins (ZADD LT)."""
    wakeups.schedule(bus.redis, {target: at})


def publish_run(
    bus: Bus,
    fn: Function,
    run_id: str,
    *,
    member: tuple[str, int] | None = None,
    ready_at: float | None = None,
    priority: int | None = None,
) -> None:
    bus.celery.send_task(
        fn.task_name,
        args=[run_id],
        kwargs={"member": list(member) if member else None, "ready_at": ready_at or time.time()},
        queue=fn.queue,
        priority=broker_priority(bus, DEFAULT_PRIORITY if priority is None else priority),
    )


def publish_now(bus: Bus, target: str) -> None:
    """Publish a run something just made runnable; if the broker refuses, wake it instead
    (the sweeper publishes it as soon as it can)."""
    try:
        bus.publish(target)
    except Exception:
        log.warning("could not publish %s now; the sweeper will", target, exc_info=True)
        wake(bus, target, time.time())


def publish_target(bus: Bus, target: str, *, ready_at: float | None = None) -> bool:
    """Publish a run (or member) that a wake-up or a resolved wait made runnable."""
    run_id, member = parse_target(target)
    route = bus.runs.route(run_id)
    if route is None:
        return False  # expired or deleted run: nothing to wake
    function_id, priority = route
    fn = bus.function(function_id)
    if fn is None:
        if bus.function_missing(target, function_id):
            return False
        log.error("run %s belongs to function %s, which this process does not know", run_id,
                  function_id)
        return False
    publish_run(bus, fn, run_id, member=member, ready_at=ready_at, priority=priority)
    return True
