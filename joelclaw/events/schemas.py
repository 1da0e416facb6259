"""Events from untrusted JSON, and the JSON Schemas of the registered payloads."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from joelclaw.errors import EventError
from joelclaw.events.limits import check_size
from joelclaw.events.model import Event, describe


def parse_event(raw: Any) -> Event:
    """An Event from untrusted JSON, or EventError with a readable reason."""
    if not isinstance(raw, dict):
        raise EventError("an event must be a JSON object with at least a 'name'")
    check_size(raw)
    try:
        return Event.model_validate(raw)
    except ValidationError as exc:
        raise EventError(f"invalid event: {describe(exc)}") from None

