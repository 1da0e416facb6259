"""Celery glue: the Celery app a runtime builds (`make_celery`, on kombu's Redis transport made to
survive a broker restart), what joelclaw installs into Celery's processes (the worker's sweeper
thread for durable time, the reload bootstep and pool restart, task signals and canvas
callbacks, beat's deduplicating cron scheduler), and the broker's queues read directly
(`queues`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.celery import queues
    from joelclaw.bus.celery.app import CelerySetup, make_celery
    from joelclaw.bus.celery.cron import (
        CRON_TASK,
        CronSchedule,
        beat_schedule_for,
        dispatch_tick,
        scheduler_for,
    )
    from joelclaw.bus.celery.reload import RELOAD_EXIT, install_pool_restart, reload_step
    from joelclaw.bus.celery.sweeper import Sweeper, sweeper_step
    from joelclaw.bus.celery.task_hooks import Signals
    from joelclaw.bus.celery.task_hooks import install as install_task_hooks

__all__ = [
    "CRON_TASK",
    "RELOAD_EXIT",
    "CelerySetup",
    "CronSchedule",
    "Signals",
    "Sweeper",
    "beat_schedule_for",
    "dispatch_tick",
    "install_pool_restart",
    "install_task_hooks",
    "make_celery",
    "queues",
    "reload_step",
    "scheduler_for",
    "sweeper_step",
]

__getattr__, __dir__ = door(__name__, {
    "CelerySetup": "app:CelerySetup",
    "make_celery": "app:make_celery",
    "queues": "queues",
    "CRON_TASK": "cron:CRON_TASK",
    "CronSchedule": "cron:CronSchedule",
    "RELOAD_EXIT": "reload:RELOAD_EXIT",
    "Signals": "task_hooks:Signals",
    "Sweeper": "sweeper:Sweeper",
    "beat_schedule_for": "cron:beat_schedule_for",
    "dispatch_tick": "cron:dispatch_tick",
    "install_pool_restart": "reload:install_pool_restart",
    "install_task_hooks": "task_hooks:install",
    "reload_step": "reload:reload_step",
    "scheduler_for": "cron:scheduler_for",
    "sweeper_step": "sweeper:sweeper_step",
})
