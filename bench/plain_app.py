"""The plain-Celery baseline: the same broker options joelclaw uses, tasks doing the same work
without durable steps, events, leases or traces."""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

BROKER = os.environ["BENCH_REDIS_URL"]
CONFIG = dict(
    task_serializer="json", accept_content=["json"], task_ignore_result=True,
    task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
    task_default_queue="plain", task_default_priority=5,
    broker_transport_options={"priority_steps": list(range(10)), "sep": ":",
                              "queue_order_strategy": "priority"},
    worker_hijack_root_logger=False,
)


def sender(broker: str) -> Celery:
    """The same app on `broker`, to send by task name: a benchmark that starts a fresh Redis per
    run (bench/durability.py) cannot reuse the one bound at import."""
    app = Celery("plain", broker=broker, set_as_current=False)
    app.conf.update(CONFIG)
    return app


app = sender(BROKER)
_redis = redis.Redis.from_url(BROKER)


@app.task(name="plain.one")
def one(i: int) -> None:
    _redis.hset("bench:start", i, time.time())
    _redis.incr("bench:done")


@app.task(name="plain.ten")
def ten(i: int) -> None:
    _redis.hset("bench:start", i, time.time())
    for _ in range(9):
        _redis.hset("bench:scratch", i, 1)  # stands in for a step's result write
    _redis.incr("bench:done")


@app.task(name="plain.three_io")
def three_io(i: int, seconds: float) -> None:
    """The hosts benchmark's work: three waits (I/O-bound steps), then done."""
    for _ in range(3):
        time.sleep(seconds)
    _redis.incr("bench:done")
