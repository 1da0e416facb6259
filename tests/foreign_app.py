"""A Celery app that is not joelclaw's, as an existing code base has one: its own tasks and
worker on the same broker (with the same Redis transport options, so priorities are read).
`FOREIGN_HOOKS=1` installs joelclaw's task hooks (timings, errors, task events)."""

from __future__ import annotations

import os

from celery import Celery

from joelclaw import client

app = Celery("foreign", broker=os.environ["JOELCLAW_REDIS_URL"], set_as_current=False)
app.conf.update(
    task_serializer="json", accept_content=["json"], task_ignore_result=True,
    task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
    task_default_queue="foreign", worker_hijack_root_logger=False,
    broker_transport_options={"priority_steps": list(range(10)), "sep": ":",
                              "queue_order_strategy": "priority"},
)
if os.environ.get("FOREIGN_HOOKS") == "1":
    client.install_task_hooks(app)


@app.task(name="foreign.mul")
def mul(a: int, b: int) -> int:
    return a * b


@app.task(name="foreign.fail")
def fail(why: str) -> None:
    raise KeyError(why)
