"""Telegram Bot API webhooks: `X-Telegram-Bot-Api-Secret-Token` must equal the configured secret.

Telegram resends an Update until it gets a 200, always with the same `update_id`, so
`telegram-<update_id>` makes those retries deduplicate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from joelclaw.events.model import Event
from joelclaw.events.payloads.telegram import callback_fields, message_fields
from webhooks.providers.common import provider_event, signed

NAME = "telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"


def verify(
    raw: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None
) -> bool:
    """True only when the secret-token header equals the secret (no HMAC in Telegram's scheme)."""
    return signed(headers, SECRET_HEADER, secret, lambda key: [key])


def normalize(payload: dict[str, Any], headers: Mapping[str, str]) -> list[Event]:
    """Messages and callback queries; [] for edits, channel posts and membership updates."""
    if not isinstance(payload, dict):
        raise ValueError("telegram update must be a JSON object")
    update_id = payload.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id < 2**63:
        raise ValueError(f"telegram update has no integer update_id: {update_id!r}")
    if isinstance(payload.get("message"), dict):
        name, fields = "telegram/message.received", message_fields(update_id, payload["message"])
    elif isinstance(payload.get("callback_query"), dict):
        query = payload["callback_query"]
        if not isinstance(query.get("data"), str):
            return []  # game callbacks carry no data; nothing in joelclaw answers them
        name, fields = "telegram/callback.received", callback_fields(update_id, query)
    else:
        return []
    return [provider_event(NAME, name, fields, str(update_id), name.split("/")[1])]


def from_owner(event: Event, owner: Any) -> bool:
    """Only the owner is served (SPEC §5): anyone else's message or button press is dropped
    before it becomes a stored event or a run (none configured: nobody is the owner)."""
    sender = event.data.get("from_id") if isinstance(event.data, dict) else getattr(
        event.data, "from_id", None)
    return owner is not None and sender == owner
