"""The Celery app factory, configured for correctness on Redis (SPEC §13).

- JSON only; `acks_late` with `task_reject_on_worker_lost`, so a killed pool process puts its
  message back instead of acknowledging it; prefetch 1, so priorities are not defeated.
- Priorities are emulated on Redis by one list per step (0 is the highest there); every message
  carries an explicit priority, since one sent without counts as the highest.
- The visibility timeout is long on purpose: run liveness comes from our own leases (see
  `joelclaw.bus.delivery.leases`), so the broker never re-delivers a task that is still running.
- No result backend: results, traces and fan-in live in our run store.

Extensions (the gateway) add their own tasks and worker bootsteps through `setup` callables;
the app itself knows only the bus.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from kombu import Queue

from joelclaw import durability, keys
from joelclaw.bus.celery.connection import broker_app
from joelclaw.bus.celery.cron import beat_schedule_for, scheduler_for
from joelclaw.bus.celery.queues import queue_names
from joelclaw.bus.celery.reload import install_pool_restart, reload_step
from joelclaw.bus.celery.sweeper import sweeper_step
from joelclaw.bus.celery.task_hooks import install as install_task_hooks
from joelclaw.bus.delivery.publish import DEFAULT_PRIORITY, is_amqp
from joelclaw.bus.execution.executor import execute

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

CelerySetup = Callable[[Celery], None]


def make_celery(
    bus: Bus,
    broker: str,
    *,
    beat_entries: dict[str, dict[str, Any]] | None = None,
    setup: Iterable[CelerySetup] = (),
) -> Celery:
    app = broker_app(bus, broker)  # the broker, its transport and options, JSON
    queues = queue_names(bus)  # `joelclaw queues` reads the same names without the app
    amqp = is_amqp(app.conf.broker_url)
    app.conf.update(
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A run that failed for good fails its task (RunFailed): acknowledged, never requeued.
        task_acks_on_failure=True,
        worker_prefetch_multiplier=1,
        task_default_queue=keys.FUNCTION_QUEUE,
        task_default_priority=DEFAULT_PRIORITY if not amqp else 9 - DEFAULT_PRIORITY,
        task_queues=[Queue(q, queue_arguments={"x-max-priority": 10} if amqp else None)
                     for q in queues],
        task_create_missing_queues=True,
        # Task events stay off as in plain Celery: Flower switches them on while it runs.
        worker_hijack_root_logger=False,
        beat_scheduler=scheduler_for(bus),
        beat_schedule=beat_schedule_for(bus.registry, beat_entries),
    )
    for fn in bus.registry:
        _register(app, bus, fn)
    install_task_hooks(app, bus)  # plain tasks and canvas as steps: callbacks and signals
    app.steps["worker"].add(durability.worker_step(bus))  # refuses an evicting Redis
    app.steps["worker"].add(sweeper_step(bus))
    app.steps["worker"].add(reload_step(bus))  # `joelclaw reload`: restart on the new code
    install_pool_restart(bus)
    for hook in setup:
        hook(app)
    return app


def _register(app: Celery, bus: Bus, fn: Function) -> None:
    """One named task per function, so Flower and `celery inspect` show each by name."""

    def run_function(task: Task, run_id: str, member: list[Any] | None = None,
                     ready_at: float | None = None) -> str:
        # A run that failed for good raises RunFailed (after it is recorded): Celery and
        # Flower then show the task as FAILURE. Its message is acknowledged like any failed
        # task's; retries are the run store's, never Celery's.
        return execute(bus, fn, run_id, member=tuple(member) if member else None,
                       ready_at=ready_at, worker=task.request.hostname, raise_failure=True)

    run_function.__doc__ = fn.description or f"durable function {fn.id}"
    # Not shared: a shared task is registered on every app this process finalises later, so
    # a role that rebuilds its app (a restart under `up`, `joelclaw reload`) would run the
    # old closures, bound to the old runtime and the old function code.
    app.task(name=fn.task_name, queue=fn.queue, ignore_result=True, bind=True,
             shared=False)(run_function)
