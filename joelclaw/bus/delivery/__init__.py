"""Handing runs to workers and back: publish a run's target (at once, via the outbox, or as
the broker commands a dispatch script writes with the run: `capture`), hold it under a lease
while one worker executes it, and settle how it ended (finish a cancelled run, tell its parent,
forget its listeners)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.delivery import capture, leases
    from joelclaw.bus.delivery.publish import (
        broker_priority,
        parse_target,
        publish_target,
        wake,
    )

__all__ = [
    "broker_priority", "capture", "leases", "parse_target", "publish_target", "wake",
]

__getattr__, __dir__ = door(__name__, {
    "broker_priority": "publish:broker_priority",
    "capture": "capture",
    "leases": "leases",
    "parse_target": "publish:parse_target",
    "publish_target": "publish:publish_target",
    "wake": "publish:wake",
})
