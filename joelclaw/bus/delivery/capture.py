"""A run's broker message as Redis commands, for a Lua script to write with the run itself.

Celery builds the message (task name, headers, explicit priority, signals) and kombu's Redis
transport routes and encodes it exactly as it would publish it (the LPUSH to the queue's list for
that priority, and the PEXPIREs of a queue with an expiry); only the last hop changes: kombu
hands those commands to us instead of sending them. So Flower, `celery inspect` and `celery
purge` see such a message as any other, and the sender saves the publish's round trip.

This is kombu's own batch hook (`Producer.batch` sets a state on the producer's thread-local,
which routes a publish through the channel's `basic_publish(..., _publish_batch=...)`); we set
a state that collects instead of buffering into a pipeline.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw.bus.delivery.publish import DEFAULT_PRIORITY, broker_priority

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

WRITES = frozenset({"lpush", "pexpire"})  # all kombu's Redis transport writes to publish


class _Collect:
    """Stands in for kombu's batch state on one producer, for one publish."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, tuple[Any, ...]]] = []

    def publish(self, channel: Any, message: Any, **kwargs: Any) -> Any:
        return channel.basic_publish(message, _publish_batch=self, **kwargs)

    def add(self, name: str, *args: Any) -> None:
        self.commands.append((name, args))


def same_server(bus: Bus) -> bool:
    """The broker is the state Redis (one script can write the run and its message)."""
    return bus.broker_url == bus.redis_url and bus.broker_url.startswith(("redis://",
                                                                          "rediss://"))


def run_message(bus: Bus, fn: Function, run_id: str, *, ready_at: float | None = None,
                priority: int | None = None) -> list[list[str]] | None:
    """The commands that publish `run_id` as `publish_run` would, unsent; None when the
    broker is another server or the transport cannot hand them over (publish normally)."""
    if not same_server(bus):
        return None
    app = bus.celery
    collect = _Collect()
    with app.producer_or_acquire() as producer:
        if not hasattr(producer.channel, "create_publish_batch"):
            return None
        producer._batch_local.current = collect
        try:
            app.send_task(
                fn.task_name, args=[run_id],
                kwargs={"member": None, "ready_at": ready_at or time.time()},
                queue=fn.queue, producer=producer,
                priority=broker_priority(bus, DEFAULT_PRIORITY if priority is None
                                         else priority))
        finally:
            del producer._batch_local.current
    if not collect.commands or any(name not in WRITES for name, _ in collect.commands):
        return None
    return [[name.upper(), *(_text(arg) for arg in args)] for name, args in collect.commands]


def _text(arg: Any) -> str:
    if isinstance(arg, bytes):
        return arg.decode()
    return str(arg)
