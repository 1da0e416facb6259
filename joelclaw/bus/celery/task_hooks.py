"""What joelclaw adds to every worker for plain Celery tasks: the canvas callbacks, and task
signals that record timings and emit task events.

- `joelclaw.canvas.done` / `joelclaw.canvas.failed`: the `link` / `link_error` of every task a
  `step.task`/`step.canvas` publishes (see `joelclaw.bus.execution.canvas`). The failure callback is
  called in the failing worker with the exception when that worker knows it (a joelclaw worker),
  or sent as a message with the task id otherwise (a foreign worker; Celery decides, and the
  details then come from the task's info hash if that worker installed these hooks).
- Signals, for the tasks this worker executes: a canvas task's start (first and last), its
  retries, deliveries and end go to `jc:task:<id>`, so a step's trace shows queue delay vs
  execution; a task named by `JOELCLAW_TASK_EVENTS` emits `celery/task.succeeded|failed`.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

from celery import current_task, signals

from joelclaw import keys
from joelclaw.bus.execution import canvas
from joelclaw.bus.functions.registry import TASK_PREFIX
from joelclaw.bus.records.previews import preview
from joelclaw.events.model import Event
from joelclaw.events.payloads.celery_tasks import FAILED, SUCCEEDED

if TYPE_CHECKING:
    from celery import Celery

    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.tasks")
PREVIEW_CHARS = 2048


def install(app: Celery, bus: Bus) -> None:
    """Register the canvas callbacks on `app` and connect the task signals for its tasks."""
    queue = bus.settings.worker.canvas_queue

    hooks = Signals(app, bus)

    @app.task(name=canvas.DONE_TASK, queue=queue, ignore_result=True, shared=False)
    def canvas_done(value: Any = None, base: str = "", path: str = "") -> None:
        # A redelivered callback can meet its dead twin's young publish claim: wait the few
        # seconds until the claim may be declared dead, holding this (acks_late) message, so a
        # worker killed meanwhile leaves it to be redelivered. A countdown retry would be an
        # ETA message that a killed worker leaves unacknowledged for the visibility timeout.
        while True:
            try:
                canvas.node_done(bus, base, path, value)
                return
            except canvas.Unconfirmed as exc:
                time.sleep(min(exc.wait, canvas.CLAIM_GRACE) + 0.05)

    @app.task(name=canvas.FAILED_TASK, queue=queue, ignore_result=True, shared=False)
    def canvas_failed(*args: Any, base: str = "", path: str = "") -> None:
        # In the failing worker: (request, exc, traceback); as a message: (task_id,).
        if len(args) >= 2:
            # Called before the failed task's postrun: its end is recorded first, so the run
            # this callback wakes reads it.
            hooks.ended(canvas.task_id(base, path))
            error = canvas.error_from_exception(args[1], args[2] if len(args) > 2 else None)
        else:
            error = _stored_error(bus, canvas.task_id(base, path))
        canvas.node_failed(bus, base, path, error)

    hooks.connect()


def _stored_error(bus: Bus, tid: str, patience: float = 2.0) -> dict[str, Any]:
    """The error a foreign worker's hooks recorded; they write it just after Celery sends this
    callback, so it may take a moment to appear."""
    deadline = time.monotonic() + patience
    while True:
        raw = bus.redis.hget(keys.task_info(tid), "error")
        if raw:
            return json.loads(raw)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return {"name": "TaskFailed", "stack": "",
            "message": f"task {tid} failed on a worker without joelclaw's task hooks"}


class Signals:
    """Signal handlers bound to one app (a process may build several apps: tests do)."""

    def __init__(self, app: Celery, bus: Bus):
        self.app, self.bus = app, bus
        self.globs = tuple(bus.settings.worker.task_events)
        self.started: dict[str, float] = {}  # task id -> when this process started it
        self.ends: dict[str, float] = {}  # canvas task id -> its end, recorded before postrun

    def connect(self) -> None:
        signals.task_prerun.connect(self.prerun, weak=False)
        signals.task_postrun.connect(self.postrun, weak=False)
        signals.task_failure.connect(self.failure, weak=False)
        # Only for the canvas callback: a receiver for every task would make Celery build
        # each run's message again (joelclaw.bus.delivery.capture keeps a template).
        signals.before_task_publish.connect(self.publishing, sender=canvas.DONE_TASK,
                                            weak=False)

    def publishing(self, sender: Any = None, **_: Any) -> None:
        """Celery publishes a task's success callback (`link`) as soon as its body returned,
        before `task_postrun`: for a canvas task, its end is recorded now, so the run that
        callback wakes finds it (its trace would otherwise miss the task's execution time)."""
        task = current_task._get_current_object() if current_task else None
        if task is None or not self._ours(task):
            return
        task_id = task.request.id or ""
        if task_id.startswith(keys.CANVAS_TASK_PREFIX):
            self.ended(task_id)

    def ended(self, task_id: str) -> None:
        """Record that a canvas task's body is over (its postrun writes the same time)."""
        at = self.ends[task_id] = time.time()
        try:
            self.bus.redis.hset(keys.task_info(task_id), "ended_at", at)
        except Exception:
            log.warning("could not record the end of task %s", task_id, exc_info=True)

    def _ours(self, sender: Any) -> bool:
        return getattr(sender, "app", None) is self.app

    def prerun(self, sender: Any = None, task_id: str = "", **_: Any) -> None:
        if not self._ours(sender):
            return
        self.started[task_id] = time.time()
        if not task_id.startswith(keys.CANVAS_TASK_PREFIX):
            return
        try:
            now, info = time.time(), keys.task_info(task_id)
            pipe = self.bus.redis.pipeline(transaction=False)
            pipe.hsetnx(info, "started_at", now)
            pipe.hset(info, mapping={"last_started_at": now, "worker": _worker(sender),
                                     "retries": int(sender.request.retries or 0)})
            pipe.hincrby(info, "deliveries", 1)
            pipe.expire(info, keys.CANVAS_TTL)
            pipe.execute()
        except Exception:
            log.warning("could not record the start of task %s", task_id, exc_info=True)

    def failure(self, sender: Any = None, task_id: str = "", exception: Any = None,
                einfo: Any = None, **_: Any) -> None:
        if not self._ours(sender) or not task_id.startswith(keys.CANVAS_TASK_PREFIX):
            return
        error = canvas.error_from_exception(exception, getattr(einfo, "traceback", None))
        try:
            self.bus.redis.hset(keys.task_info(task_id), "error", json.dumps(error))
        except Exception:
            log.warning("could not record the failure of task %s", task_id, exc_info=True)

    def postrun(self, sender: Any = None, task_id: str = "", args: Any = None,
                kwargs: Any = None, retval: Any = None, state: str | None = None,
                **_: Any) -> None:
        if not self._ours(sender):
            return
        started = self.started.pop(task_id, None)
        ended = self.ends.pop(task_id, None) or time.time()
        if task_id.startswith(keys.CANVAS_TASK_PREFIX):
            try:
                self.bus.redis.hset(keys.task_info(task_id),
                                    mapping={"ended_at": ended, "state": state or ""})
            except Exception:
                log.warning("could not record the end of task %s", task_id, exc_info=True)
        if state in ("SUCCESS", "FAILURE") and self._emits(sender.name):
            runtime = (time.time() - started) * 1000 if started is not None else None
            try:
                self._emit(sender, task_id, args, kwargs, retval, state, runtime)
            except Exception:
                log.warning("could not emit the event of task %s", task_id, exc_info=True)

    def _emits(self, name: str) -> bool:
        if name.startswith((TASK_PREFIX, "joelclaw.")):
            return False  # durable functions and joelclaw's own tasks have their own events
        return any(fnmatch.fnmatchcase(name, glob) for glob in self.globs)

    def _emit(self, sender: Any, task_id: str, args: Any, kwargs: Any, retval: Any,
              state: str, runtime_ms: float | None) -> None:
        data: dict[str, Any] = {
            "task": sender.name, "task_id": task_id,
            "args": preview(list(args or ()), PREVIEW_CHARS),
            "kwargs": preview(dict(kwargs or {}), PREVIEW_CHARS),
            "runtime_ms": round(runtime_ms, 1) if runtime_ms is not None else None,
            "retries": int(sender.request.retries or 0), "worker": _worker(sender),
        }
        if state == "SUCCESS":
            name = SUCCEEDED
            data["result"] = preview(retval, PREVIEW_CHARS)
        else:
            name = FAILED
            data["error"] = canvas.error_from_exception(
                retval if isinstance(retval, BaseException) else None)
        self.bus.send(Event(name=name, data=data, id=f"celery-{task_id}-{state.lower()}"))


def _worker(sender: Any) -> str:
    return str(getattr(sender.request, "hostname", None) or socket.gethostname())
