"""`joelclaw.send_event(...)`: put an event on the bus from any Python process, a plain Celery
task included, with nothing but the settings (`JOELCLAW_REDIS_URL`, ...).

The runtime is built lazily on first use, once per process; a joelclaw worker hands its own
(`use`), so a plain task running there sends through the worker's connections.
"""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_runtime: Any = None


def use(runtime: Any) -> None:
    """Send through this runtime (the worker entry point passes its own)."""
    global _runtime
    _runtime = runtime


def runtime() -> Any:
    """The process's runtime, built from the settings on first use."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                from joelclaw.runtime import Runtime

                _runtime = Runtime()
    return _runtime


def send_event(name: str, data: Any = None, *, id: str | None = None,
               ts: int | None = None, **fields: Any) -> dict[str, Any]:
    """Send one event; returns what happened (`{"id", "name", "status", "runs"}`).

    Give an `id` derived from what happened (a task id, an upload's path): a second send with
    the same id within 24 h triggers nothing. A bad name or payload raises EventError.
    """
    from joelclaw.events.model import Event

    event: dict[str, Any] = {"name": name, "data": data if data is not None else {}, **fields}
    if id is not None:
        event["id"] = id
    if ts is not None:
        event["ts"] = ts
    return runtime().send(Event(**event))[0].to_dict()


def install_task_hooks(app: Any) -> None:
    """On a Celery app that is not joelclaw's (a worker that never imports `joelclaw.worker`):
    record the timings and errors of the tasks steps publish, and emit the task events that
    `JOELCLAW_TASK_EVENTS` names. Without it, such tasks still answer their steps (results
    through the link callbacks), but a failure reaches the step without its exception."""
    from joelclaw.bus.celery import Signals

    Signals(app, runtime()).connect()
