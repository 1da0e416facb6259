"""Telegram Bot API webhooks: `X-Telegram-Bot-Api-Secret-Token` must equal the configured secret.

Telegram resends an Update until it gets a 200, always with the same `update_id`, so
`telegram-<update_id>` makes those retries deduplicate.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from joelclaw.events.model import Event
from joelclaw.events.payloads import build_payload
from webhooks.providers.common import lower_headers

NAME = "telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
# Checked in order: an animation is also sent as a document, so it comes first.
MEDIA_TYPES = ("photo", "voice", "audio", "video", "video_note", "animation", "document",
               "sticker")  # fmt: skip


def verify(
    raw: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None
) -> bool:
    """True only when the secret-token header equals the secret (no HMAC in Telegram's scheme)."""
    given = lower_headers(headers).get(SECRET_HEADER)
    if not secret or not given:
        return False
    expected = secret.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(expected, given.strip().encode("utf-8", "surrogatepass"))


def normalize(payload: dict[str, Any], headers: Mapping[str, str]) -> list[Event]:
    """Messages and callback queries; [] for edits, channel posts and membership updates."""
    if not isinstance(payload, dict):
        raise ValueError("telegram update must be a JSON object")
    update_id = payload.get("update_id")
    if isinstance(update_id, bool) or not isinstance(update_id, int) or not 0 <= update_id < 2**63:
        raise ValueError(f"telegram update has no integer update_id: {update_id!r}")
    if isinstance(payload.get("message"), dict):
        name, fields = "telegram/message.received", _message(update_id, payload["message"])
    elif isinstance(payload.get("callback_query"), dict):
        query = payload["callback_query"]
        if not isinstance(query.get("data"), str):
            return []  # game callbacks carry no data; nothing in joelclaw answers them
        name, fields = "telegram/callback.received", _callback(update_id, query)
    else:
        return []
    data = build_payload(name, fields)
    source = {"provider": NAME, "delivery": str(update_id), "type": name.split("/")[1]}
    return [Event(name=name, data=data, id=f"{NAME}-{update_id}", source=source)]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _media(message: dict[str, Any]) -> tuple[str | None, Any]:
    """(media type, file_id); for photos the largest size, which Telegram lists last."""
    for kind in MEDIA_TYPES:
        value = message.get(kind)
        if isinstance(value, list) and value:
            return kind, _obj(value[-1]).get("file_id")
        if isinstance(value, dict):
            return kind, value.get("file_id")
    return None, None


def _message(update_id: int, message: dict[str, Any]) -> dict[str, Any]:
    sender, chat = _obj(message.get("from")), _obj(message.get("chat"))
    media_type, file_id = _media(message)
    return {
        "update_id": update_id,
        "message_id": message.get("message_id"),
        "chat_id": chat.get("id"),
        "chat_type": chat.get("type"),
        "from_id": sender.get("id"),
        "from_username": sender.get("username"),
        "from_first_name": sender.get("first_name"),
        "from_is_bot": sender.get("is_bot", False),
        "date": message.get("date"),
        "text": message.get("text"),
        "caption": message.get("caption"),
        "media_type": media_type,
        "file_id": file_id,
        "reply_to_message_id": _obj(message.get("reply_to_message")).get("message_id"),
    }


def _callback(update_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """Callback data is `action:context` (the gateway's convention); no colon → no context."""
    raw_data: str = query["data"]
    action, _, context = raw_data.partition(":")
    message, sender = _obj(query.get("message")), _obj(query.get("from"))
    return {
        "update_id": update_id,
        "callback_query_id": query.get("id"),
        "action": action,
        "context": context,
        "raw_data": raw_data,
        "chat_id": _obj(message.get("chat")).get("id"),
        "message_id": message.get("message_id"),
        "from_id": sender.get("id"),
        "from_username": sender.get("username"),
    }
