"""The Celery app factory, configured for correctness on Redis (SPEC §13).

- JSON only; `acks_late` with `task_reject_on_worker_lost`, so a killed pool process puts its
  message back instead of acknowledging it; prefetch 1, so priorities are not defeated.
- Priorities are emulated on Redis by one list per step (0 is the highest there); every message
  carries an explicit priority, since one sent without counts as the highest.
- The visibility timeout is long on purpose: run liveness comes from our own leases (see
  `joelclaw.bus.leases`), so the broker never re-delivers a task that is still running.
- No result backend: results, traces and fan-in live in our run store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery, bootsteps
from kombu import Queue

from joelclaw.bus.functions import DEFAULT_QUEUE, Function
from joelclaw.bus.scheduler import DEFAULT_PRIORITY, Sweeper

if TYPE_CHECKING:
    from joelclaw.config import Settings
    from joelclaw.runtime import Runtime

GATEWAY_QUEUE = "gateway"


def make_celery(rt: Runtime) -> Celery:
    settings = rt.settings
    broker = settings.broker_url or rt.redis_url
    app = Celery("joelclaw", broker=broker, set_as_current=False)
    queues = sorted({DEFAULT_QUEUE, GATEWAY_QUEUE, *(fn.queue for fn in rt.registry)})
    amqp = broker.startswith("amqp")
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=DEFAULT_QUEUE,
        task_default_priority=DEFAULT_PRIORITY if not amqp else 9 - DEFAULT_PRIORITY,
        task_queues=[Queue(q, queue_arguments={"x-max-priority": 10} if amqp else None)
                     for q in queues],
        task_create_missing_queues=True,
        broker_transport_options=_transport_options(settings),
        broker_connection_retry_on_startup=True,
        # Task events stay off as in plain Celery: Flower switches them on while it runs.
        worker_hijack_root_logger=False,
        timezone=settings.timezone,
        enable_utc=True,
        beat_scheduler="joelclaw.bus.cron:DedupScheduler",
    )
    app.joelclaw = rt  # type: ignore[attr-defined]
    for fn in rt.registry:
        _register(app, rt, fn)
    app.steps["worker"].add(SweeperStep)
    from joelclaw.bus.cron import beat_schedule_for

    app.conf.beat_schedule = beat_schedule_for(rt)
    return app


def _transport_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "visibility_timeout": settings.visibility_timeout,
        "priority_steps": list(range(10)),
        "sep": ":",
        "queue_order_strategy": "priority",
    }
    if settings.unacked_restore_seconds:
        options["unacked_restore_interval"] = settings.unacked_restore_seconds
        options["unacked_restore_throttle"] = 1
    return options


def _register(app: Celery, rt: Runtime, fn: Function) -> None:
    """One named task per function, so Flower and `celery inspect` show each by name."""
    from joelclaw.bus.executor import execute

    def run_function(run_id: str, member: list[Any] | None = None,
                     ready_at: float | None = None) -> str:
        return execute(rt, fn, run_id, member=tuple(member) if member else None,
                       ready_at=ready_at)

    run_function.__doc__ = fn.description or f"durable function {fn.id}"
    app.task(name=fn.task_name, queue=fn.queue, ignore_result=True)(run_function)


class SweeperStep(bootsteps.StartStopStep):
    """Runs the wake-up/lease sweeper in every worker's main process."""

    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker: Any, **kwargs: Any):
        super().__init__(worker, **kwargs)
        self.sweeper: Sweeper | None = None

    def start(self, worker: Any) -> None:
        queues = worker.app.amqp.queues
        self.sweeper = Sweeper(worker.app.joelclaw, node=worker.hostname,
                               queues=lambda: list(queues.consume_from))
        self.sweeper.start()

    def stop(self, worker: Any) -> None:
        if self.sweeper is not None:
            self.sweeper.stop()
