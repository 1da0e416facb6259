"""How the gateway plugs into the bus, without the bus knowing it.

`install(runtime)` registers the `gateway` service that functions use as `ctx.gateway` and
returns what the Celery app needs: the drain task on the gateway queue and a worker bootstep
that runs the Telegram poller and the heartbeat/watchdog in workers consuming that queue.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from celery import Celery, bootsteps

from joelclaw import keys
from joelclaw.gateway.context import GatewayContext
from joelclaw.gateway.drain import drain
from joelclaw.gateway.inbound import GatewayService
from joelclaw.gateway.service import DRAIN_TASK

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.gateway")
SERVICE = "gateway"


def install(bus: Bus) -> Any:
    """Offer `ctx.gateway` to functions; returns the Celery setup hook."""
    bus.services[SERVICE] = GatewayContext

    def setup(app: Celery) -> None:
        def drain_queue() -> dict[str, Any]:
            """Deliver the gateway's queued messages by priority, one at a time per chat."""
            return drain(bus)

        app.task(name=DRAIN_TASK, queue=keys.GATEWAY_QUEUE, ignore_result=True,
                 shared=False)(drain_queue)
        app.steps["worker"].add(type("GatewayStep", (GatewayStep,), {"bus": bus}))

    return setup


class GatewayStep(bootsteps.StartStopStep):
    """The gateway's threads, in the main process of a worker that consumes the gateway queue."""

    requires = {"celery.worker.components:Pool"}
    bus: Bus

    def __init__(self, worker: Any, **kwargs: Any):
        super().__init__(worker, **kwargs)
        self.service: GatewayService | None = None

    def start(self, worker: Any) -> None:
        consumed = set(worker.app.amqp.queues.consume_from or {})
        if keys.GATEWAY_QUEUE not in consumed:
            return
        self.service = GatewayService(self.bus)
        self.service.start()

    def stop(self, worker: Any) -> None:
        if self.service is not None:
            self.service.stop()
            self.service = None
