"""Celery glue: the Celery app a runtime builds (`make_celery`, on kombu's Redis transport made to
survive a broker restart; `broker_app`, the same connection to the broker alone), what joelclaw
installs into Celery's processes (the worker's sweeper thread for durable time, the reload
bootstep and pool restart, task signals and canvas callbacks, beat's deduplicating cron
scheduler and its catch-up after downtime, `catchup`), and the broker's queues read directly
(`queues`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.celery import catchup, queues
    from joelclaw.bus.celery.app import CelerySetup, make_celery
    from joelclaw.bus.celery.connection import broker_app
    from joelclaw.bus.celery.cron import (
        CRON_TASK,
        CronSchedule,
        dispatch_tick,
        last_field,
        scheduler_for,
    )
    from joelclaw.bus.celery.exitcodes import RELOAD_EXIT
    from joelclaw.bus.celery.sweeper import Sweeper
    from joelclaw.bus.celery.task_hooks import Signals

__all__ = [
    "CRON_TASK",
    "RELOAD_EXIT",
    "CelerySetup",
    "CronSchedule",
    "Signals",
    "Sweeper",
    "broker_app",
    "catchup",
    "dispatch_tick",
    "last_field",
    "make_celery",
    "queues",
    "scheduler_for",
]

__getattr__, __dir__ = door(__name__, {
    "CelerySetup": "app:CelerySetup",
    "make_celery": "app:make_celery",
    "broker_app": "connection:broker_app",
    "queues": "queues",
    "catchup": "catchup",
    "CRON_TASK": "cron:CRON_TASK",
    "CronSchedule": "cron:CronSchedule",
    "RELOAD_EXIT": "exitcodes:RELOAD_EXIT",
    "Signals": "task_hooks:Signals",
    "Sweeper": "sweeper:Sweeper",
    "dispatch_tick": "cron:dispatch_tick",
    "last_field": "cron:last_field",
    "scheduler_for": "cron:scheduler_for",
})
