"""An event arriving: stored once by id, matched to the functions it triggers, their runs
created through flow control and published, and the runs waiting for it resumed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.intake.dispatch import send_events

__all__ = [
    "send_events",
]

__getattr__, __dir__ = door(__name__, {
    "send_events": "dispatch:send_events",
})
