"""Handing runs to workers and back: publish a run's target (at once or via the outbox),
hold it under a lease while one worker executes it, and settle how it ended (finish a cancelled
run, tell its parent, forget its listeners)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.delivery import leases
    from joelclaw.bus.delivery.publish import (
        DEFAULT_PRIORITY,
        broker_priority,
        is_amqp,
        parse_target,
        publish_target,
        target_for,
        wake,
    )

__all__ = [
    "DEFAULT_PRIORITY", "broker_priority", "is_amqp", "leases", "parse_target", "publish_target",
    "target_for", "wake",
]

__getattr__, __dir__ = door(__name__, {
    "DEFAULT_PRIORITY": "publish:DEFAULT_PRIORITY",
    "broker_priority": "publish:broker_priority",
    "is_amqp": "publish:is_amqp",
    "leases": "leases",
    "parse_target": "publish:parse_target",
    "publish_target": "publish:publish_target",
    "target_for": "publish:target_for",
    "wake": "publish:wake",
})
