"""The size limit of one event, the same wherever an event enters: `POST /api/events` refuses a
larger body (413), `joelclaw send` a larger event (exit 2), both with the same message.

1 MiB as JSON: events are notifications that carry references, not file contents; every event is
kept in Redis for days and copied into each run it starts.
"""

from __future__ import annotations

import json
from typing import Any

from joelclaw.errors import EventError

MAX_EVENT_BYTES = 1024 * 1024


class EventTooLarge(EventError):
    code = "EVENT_TOO_LARGE"


def too_large(size: int | None, what: str = "event") -> str:
    shown = f"{size:,} bytes" if size is not None else f"more than {MAX_EVENT_BYTES:,} bytes"
    return (f"{what} is {shown}; the limit is {MAX_EVENT_BYTES:,} bytes (1 MiB) of JSON: "
            "send a reference (a URL, a path, an id) instead of the content")


def check_size(raw: dict[str, Any]) -> None:
    """Raise EventTooLarge when the event, as compact JSON, exceeds MAX_EVENT_BYTES."""
    size = len(json.dumps(raw, separators=(",", ":"), default=str).encode())
    if size > MAX_EVENT_BYTES:
        raise EventTooLarge(too_large(size))
