"""The plain Celery side of bench/canvas.py: an ordinary app with a Redis result backend (the
way its users await results), on the broker joelclaw uses, with the same transport options."""

from __future__ import annotations

import os

from celery import Celery

BROKER = os.environ["BENCH_REDIS_URL"]
app = Celery("canvasbench", broker=BROKER, backend=BROKER, set_as_current=False)
app.conf.update(
    task_serializer="json", accept_content=["json"], result_serializer="json",
    task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
    task_default_queue="bplain", task_default_priority=5, result_expires=600,
    broker_transport_options={"priority_steps": list(range(10)), "sep": ":",
                              "queue_order_strategy": "priority"},
    worker_hijack_root_logger=False,
)


@app.task(name="bench.echo")
def echo(i: int) -> int:
    return i
