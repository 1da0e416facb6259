"""Todoist webhooks (v1): `X-Todoist-Hmac-SHA256` = base64 HMAC-SHA256 of the raw body.

The key is the app's client secret, not its verification token. Todoist reuses
`X-Todoist-Delivery-ID` when it retries a delivery, so that id makes retries deduplicate.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from joelclaw.events.model import Event
from webhooks.providers.common import (
    delivery_id,
    hmac_digest,
    lower_headers,
    provider_event,
    signed,
)

NAME = "todoist"
SIGNATURE_HEADER = "x-todoist-hmac-sha256"
DELIVERY_HEADER = "x-todoist-delivery-id"

EVENT_NAMES: dict[str, str] = {
    "note:added": "todoist/comment.added",
    "item:added": "todoist/task.created",
    "item:completed": "todoist/task.completed",
    "item:updated": "todoist/task.updated",
    "item:deleted": "todoist/task.deleted",
}
# Fields compared against event_data_extra.old_item to list what an update changed.
_TRACKED = ("content", "description", "priority", "due", "labels", "project_id", "section_id",
            "parent_id", "checked", "responsible_uid", "deadline", "duration")  # fmt: skip


def verify(
    raw: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None
) -> bool:
    """True only when the header equals base64 HMAC-SHA256(client secret, raw body)."""
    return signed(headers, SIGNATURE_HEADER, secret,
                  lambda key: [base64.b64encode(hmac_digest(key, raw, "sha256"))])


def normalize(payload: dict[str, Any], headers: Mapping[str, str]) -> list[Event]:
    """One event for the five mapped event_names; [] for the rest (projects, labels, …)."""
    if not isinstance(payload, dict):
        raise ValueError("todoist payload must be a JSON object")
    event_name = payload.get("event_name")
    if not isinstance(event_name, str) or event_name not in EVENT_NAMES:
        return []
    name = EVENT_NAMES[event_name]
    event_data = payload.get("event_data")
    if not isinstance(event_data, dict):
        raise ValueError(f"todoist {event_name}: event_data must be an object")
    fields = _comment(payload, event_data) if name.endswith("comment.added") else _task(payload)
    delivery = _delivery(lower_headers(headers).get(DELIVERY_HEADER), payload)
    return [provider_event(NAME, name, fields, delivery, event_name)]


def _delivery(header: str | None, payload: dict[str, Any]) -> str:
    """The delivery id, or a hash of the body so a header-less retry still dedupes."""
    return delivery_id(header, payload)


def _id(value: Any) -> str | None:
    """Todoist v1 ids are strings; older payloads used integers. Anything else is missing."""
    if isinstance(value, bool):
        return None
    return str(value) if isinstance(value, str | int) else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _initiator(payload: dict[str, Any]) -> str | None:
    """Who did it (a collaborator in a shared project, or the owner): never guessed."""
    return _id(_obj(payload.get("initiator")).get("id"))


def _comment(payload: dict[str, Any], note: dict[str, Any]) -> dict[str, Any]:
    """A note's parent task arrives as `event_data.item`; the old API put hints in extra."""
    item = _obj(note.get("item"))
    extra = _obj(payload.get("event_data_extra"))
    task_content = item.get("content") or extra.get("name") or extra.get("content") or ""
    return {
        "task_id": _id(note.get("item_id")) or _id(note.get("task_id")) or _id(item.get("id")),
        "comment_id": _id(note.get("id")),
        "comment_content": note.get("content"),
        "task_content": task_content,
        "project_id": _id(note.get("project_id")) or _id(item.get("project_id")),
        "initiator_id": _initiator(payload),
        "user_id": _id(payload.get("user_id")),
        "posted_at": note.get("posted_at"),
        "file_attachment": note.get("file_attachment"),
    }


def _task(payload: dict[str, Any]) -> dict[str, Any]:
    item = _obj(payload.get("event_data"))
    extra = _obj(payload.get("event_data_extra"))
    return {
        "task_id": _id(item.get("id")),
        "task_content": item.get("content"),
        "task_description": item.get("description") or "",
        "project_id": _id(item.get("project_id")),
        "section_id": _id(item.get("section_id")),
        "parent_id": _id(item.get("parent_id")),
        "labels": item.get("labels") or [],
        "priority": item.get("priority"),
        "due": item.get("due"),
        "checked": item.get("checked"),
        "completed_at": item.get("completed_at"),
        "initiator_id": _initiator(payload),
        "user_id": _id(payload.get("user_id")),
        "update_intent": extra.get("update_intent"),
        "changed_fields": _changed(item, extra.get("old_item")),
    }


def _changed(item: dict[str, Any], old: Any) -> list[str]:
    """Which tracked fields an item:updated changed, so functions can skip irrelevant edits."""
    if not isinstance(old, dict):
        return []
    return [key for key in _TRACKED if key in old and old.get(key) != item.get(key)]
