"""How every joelclaw Celery app reaches the broker: the transport (kombu's Redis transport made
to survive a broker restart, `broker`), TLS, the transport options and JSON.

`make_celery` builds the runtime's app on this and adds what it runs (tasks, queues, worker
bootsteps, beat's schedule); `broker_app` is this alone, enough to talk to the workers over the
broker (`inspect`, broadcasts such as `shutdown`): the CLI asks which workers consume the
gateway queue without loading the function registry, the extensions or beat's scheduler.
The transport options are read without Celery too (`joelclaw queues` reads the lists they name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw import redisconn

if TYPE_CHECKING:
    from celery import Celery

    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings


def transport_options(settings: Settings) -> dict[str, Any]:
    """kombu's transport options for the broker (`make_celery` sets these): how long a message
    stays invisible, the priority steps and the separator of their lists."""
    options: dict[str, Any] = {
        "visibility_timeout": settings.redis.visibility_timeout,
        "priority_steps": list(range(10)),
        "sep": ":",
        "queue_order_strategy": "priority",
    }
    if settings.redis.unacked_restore_seconds:
        options["unacked_restore_interval"] = settings.redis.unacked_restore_seconds
        options["unacked_restore_throttle"] = 1
    return options


def broker_app(bus: Bus, broker: str) -> Celery:
    """A Celery app connected to `broker` as every joelclaw process is, registering nothing."""
    from celery import Celery

    from joelclaw.bus.celery.broker import SENTINEL_TRANSPORT, TRANSPORT

    broker, sentinel_options, use_ssl = redisconn.broker(broker, bus.settings)
    app = Celery("joelclaw", broker=broker, set_as_current=False)
    if broker.startswith(("redis://", "rediss://")):
        app.conf.broker_transport = TRANSPORT  # survives a broker restart (broker.py)
    elif broker.startswith("sentinel://"):
        app.conf.broker_transport = SENTINEL_TRANSPORT  # and a failover
    if use_ssl is not None:
        app.conf.broker_use_ssl = use_ssl
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        broker_transport_options={**transport_options(bus.settings), **sentinel_options},
        broker_connection_retry_on_startup=True,
        timezone=bus.settings.timezone,
        enable_utc=True,
    )
    return app
