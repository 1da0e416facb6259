"""Plain Celery tasks, as an existing Celery code base has them: `shared_task`s that know
nothing of joelclaw's steps (only `emit` uses joelclaw.send_event). They run on queue `plain`.
Each counts its executions in Redis (`jc:test:exec:<name>:<key>`)."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import shared_task, signals

import joelclaw
from joelclaw import client

QUEUE = "plain"


def _redis() -> Any:
    return client.runtime().redis


def executions(name: str, key: str) -> int:
    return int(_redis().incr(f"jc:test:exec:{name}:{key}"))


@shared_task(name="canvas.add", queue=QUEUE)
def add(a: int, b: int) -> int:
    executions("add", f"{a}+{b}")
    return a + b


@shared_task(name="canvas.double", queue=QUEUE)
def double(x: int) -> int:
    executions("double", str(x))
    return 2 * x


@shared_task(name="canvas.boom", queue=QUEUE)
def boom(x: int) -> int:
    executions("boom", str(x))
    raise ValueError(f"boom {x}")


@shared_task(name="canvas.collect", queue=QUEUE)
def collect(values: list[int], tag: str = "") -> int:
    executions("collect", tag)
    return sum(values)


@shared_task(name="canvas.flaky", bind=True, queue=QUEUE, max_retries=5)
def flaky(self: Any, key: str, failures: int) -> str:
    if executions("flaky", key) <= failures:
        raise self.retry(exc=RuntimeError("not yet"), countdown=0.2)
    return f"ok after {self.request.retries} retries"


@shared_task(name="canvas.slow", queue=QUEUE)
def slow(key: str, value: Any) -> Any:
    """Runs until the test sets `jc:test:release:<key>` (at most 60 s); records its pid."""
    redis = _redis()
    executions("slow", key)
    redis.set(f"jc:test:pid:{key}", os.getpid())
    deadline = time.time() + 60
    while not redis.exists(f"jc:test:release:{key}") and time.time() < deadline:
        time.sleep(0.05)
    return value


@shared_task(name="canvas.held_end", queue=QUEUE)
def held_end(key: str, value: Any, fail: bool = False) -> Any:
    """Returns (or raises) at once; the signals its worker sends after the task's callbacks then
    wait until the test pushes to `jc:test:released:<key>` (at most 60 s): a late postrun."""
    executions("held_end", key)
    if fail:
        raise ValueError(f"held {key}")
    return value


def _hold_after_callbacks(sender: Any = None, **_: Any) -> None:
    """Celery sends `task_success` / `task_failure` after a task's callbacks and before
    `task_postrun`: holding here delays everything the worker records after them."""
    if getattr(sender, "name", "") != "canvas.held_end":
        return
    key = (sender.request.args or [""])[0]
    _redis().blpop([f"jc:test:released:{key}"], timeout=60)  # the test's signal to go on


signals.task_success.connect(_hold_after_callbacks, weak=False)
signals.task_failure.connect(_hold_after_callbacks, weak=False)


@shared_task(name="canvas.echo", queue=QUEUE)
def echo(value: Any, **options: Any) -> Any:
    return {"value": value, "options": options}


@shared_task(name="canvas.emit", queue=QUEUE)
def emit(name: str, data: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Existing Celery code feeding the bus."""
    return joelclaw.send_event(name, data, id=event_id)
