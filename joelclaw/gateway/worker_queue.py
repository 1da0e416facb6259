"""The gateway worker's own Celery queue, for functions that belong beside it (Telegram intake,
button presses): a name a function module takes without loading the gateway to be declared."""

from __future__ import annotations

from joelclaw.keys import GATEWAY_QUEUE as QUEUE

__all__ = ["QUEUE"]
