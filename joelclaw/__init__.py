"""joelclaw: a durable-function bus on Celery and Redis.

`joelclaw.send_event(name, data, id=...)` puts an event on the bus from any process with the
settings (a plain Celery task, a script); see `joelclaw.client`.
"""

from __future__ import annotations

from typing import Any


def send_event(name: str, data: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Send one event to the bus (see `joelclaw.client.send_event`)."""
    from joelclaw.client import send_event as send

    return send(name, data, **kwargs)


__all__ = ["send_event"]
