"""Front webhooks, both flavours, told apart by `X-Front-Request-Timestamp`.

Rules webhooks: `X-Front-Signature` = base64 HMAC-SHA1 of the *compacted* JSON body (Front
signs `JSON.stringify(body)`, not the bytes on the wire). Application webhooks: base64
HMAC-SHA256 of `<timestamp>:<raw body>`, a 5-minute replay window, and a `sync` validation
request whose `X-Front-Challenge` header must be echoed back.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from joelclaw.events.model import Event
from webhooks.providers.common import (
    delivery_id,
    lower_headers,
    provider_event,
    signed,
)

NAME = "front"
SIGNATURE_HEADER = "x-front-signature"
TIMESTAMP_HEADER = "x-front-request-timestamp"
CHALLENGE_HEADER = "x-front-challenge"
MAX_SKEW_SECONDS = 300.0
_TIMESTAMP = re.compile(r"^[0-9]{1,16}$")
_TOKEN = re.compile(r"^[a-z0-9_]{1,64}$")

# Rules-webhook event types and application-webhook event types → our event names.
EVENT_NAMES: dict[str, str] = {
    "inbound": "front/message.received",
    "outbound": "front/message.sent",
    "out_reply": "front/message.sent",
    "assign": "front/assignee.changed",
    "unassign": "front/assignee.changed",
    "tag": "front/tag.added",
    "untag": "front/tag.removed",
    "comment": "front/comment.added",
    "move": "front/conversation.moved",
    "archive": "front/conversation.archived",
    "reopen": "front/conversation.reopened",
    "trash": "front/conversation.trashed",
    "restore": "front/conversation.restored",
    "inbound_received": "front/message.received",
    "outbound_sent": "front/message.sent",
    "outbound_reply_sent": "front/message.sent",
    "assignee_changed": "front/assignee.changed",
    "tag_added": "front/tag.added",
    "tag_removed": "front/tag.removed",
    "new_comment_added": "front/comment.added",
}
IGNORED_TYPES = frozenset({"sync", "authorization"})


def _b64_hmac(key: bytes, message: bytes, algorithm: str) -> bytes:
    return base64.b64encode(hmac.new(key, message, algorithm).digest())  # key already bytes


def verify(
    raw: bytes, headers: Mapping[str, str], secret: str, *, now: float | None = None
) -> bool:
    """Application scheme when the timestamp header is present, else the rules scheme."""
    timestamp = lower_headers(headers).get(TIMESTAMP_HEADER)
    if timestamp is not None:
        return signed(headers, SIGNATURE_HEADER, secret,
                      lambda key: _app_signatures(bytes(raw), timestamp.strip(), key, now))
    return signed(headers, SIGNATURE_HEADER, secret, lambda key: (
        _b64_hmac(key, body, "sha1") for body in _rules_bodies(bytes(raw))))


def _app_signatures(raw: bytes, timestamp: str, key: bytes, now: float | None) -> list[bytes]:
    """The one signature of a fresh, well-formed timestamp; none for any other."""
    if not _TIMESTAMP.match(timestamp):
        return []
    if now is not None and not _fresh(int(timestamp), now):
        return []
    return [_b64_hmac(key, timestamp.encode("ascii") + b":" + raw, "sha256")]


def _fresh(timestamp: int, now: float) -> bool:
    """Front sends milliseconds; accept seconds too. Both directions count as skew."""
    seconds = timestamp / 1000 if timestamp >= 10**11 else float(timestamp)
    return abs(now - seconds) <= MAX_SKEW_SECONDS


def _rules_bodies(raw: bytes) -> Iterator[bytes]:
    """The compacted JSON Front signs, then the raw bytes.

    Front signs `JSON.stringify(JSON.parse(body))`. Python's compaction equals it except for some
    number spellings (JS: 1e-7 and 1, Python: 1e-07 and 1.0); Front's own compact body is exactly
    the string it signed, so the raw bytes are a second candidate under the same key.
    """
    try:
        parsed = json.loads(raw)
        yield json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except (ValueError, RecursionError):
        pass
    yield raw


def challenge(headers: Mapping[str, str], raw: bytes) -> dict[str, Any] | None:
    """`{"challenge": <X-Front-Challenge>}` for Front's app validation request, else None.

    The route answers it with 200 (after verify) instead of emitting events; `raw` is accepted
    for symmetry with other providers' challenges and is not needed by Front's.
    """
    value = lower_headers(headers).get(CHALLENGE_HEADER, "").strip()
    return {"challenge": value} if value else None


def normalize(payload: dict[str, Any], headers: Mapping[str, str]) -> list[Event]:
    """One event per Front event; [] for sync/unknown shapes without a conversation."""
    if not isinstance(payload, dict):
        raise ValueError("front payload must be a JSON object")
    kind = payload.get("type")
    if not isinstance(kind, str) or kind in IGNORED_TYPES:
        return []
    inner = payload.get("payload")
    event: dict[str, Any] = inner if isinstance(inner, dict) else payload
    name = _event_name(kind, event)
    if name is None:
        return []
    return [provider_event(NAME, name, _fields(name, kind, event), _event_id(event, payload),
                           kind)]


def _event_name(kind: str, event: dict[str, Any]) -> str | None:
    """Mapped types, else `front/conversation.<verb>` for other events on a conversation."""
    if kind in EVENT_NAMES:
        return EVENT_NAMES[kind]
    verb = kind.removeprefix("conversation_")
    if _TOKEN.match(verb) and _obj(event, "conversation").get("id") is not None:
        return f"front/conversation.{verb}"
    return None


def _event_id(event: dict[str, Any], payload: dict[str, Any]) -> str:
    """Front's event id (`evt_…`), or a hash of the body so a redelivery still dedupes."""
    return delivery_id(event.get("id"), payload)


def _obj(value: Any, *keys: str) -> dict[str, Any]:
    """The nested object at `keys`, or {} — shape errors surface in the payload model instead."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _fields(name: str, kind: str, event: dict[str, Any]) -> dict[str, Any]:
    conversation = _obj(event, "conversation")
    target = _obj(event, "target", "data")
    base = {
        "conversation_id": conversation.get("id"),
        "front_event_id": event.get("id") if isinstance(event.get("id"), str) else None,
        "front_type": kind,
    }
    noun = name.removeprefix("front/").split(".", 1)[0]
    if noun == "message":
        return {**base, **_message(name, target, conversation)}
    if noun == "assignee":
        return {**base, **_assignee(kind, target, conversation)}
    if noun == "tag":
        return {**base, "tag_id": target.get("id"), "tag_name": target.get("name")}
    if noun == "comment":
        return {**base, **_comment(target)}
    verb = name.rsplit(".", 1)[1]
    status = conversation.get("status")
    return {**base, "action": verb, "subject": conversation.get("subject"), "status": status}


def _handles(recipients: list[Any], role: str) -> list[Any]:
    return [r.get("handle") for r in recipients if isinstance(r, dict) and r.get("role") == role]


def _message(name: str, message: dict[str, Any], conversation: dict[str, Any]) -> dict[str, Any]:
    raw_recipients = message.get("recipients")
    recipients = raw_recipients if isinstance(raw_recipients, list) else []
    sender = next((r for r in recipients if isinstance(r, dict) and r.get("role") == "from"), {})
    attachments = message.get("attachments")
    inbound = message.get("is_inbound")
    return {
        "message_id": message.get("id"),
        "from_email": sender.get("handle"),
        "from_name": sender.get("name"),
        "to": _handles(recipients, "to"),
        "cc": _handles(recipients, "cc"),
        "subject": message.get("subject") or conversation.get("subject") or "",
        "body": message.get("body") or "",
        "body_plain": message.get("text") or "",
        "preview": message.get("blurb") or "",
        "is_inbound": inbound if isinstance(inbound, bool) else name.endswith(".received"),
        "attachment_count": len(attachments) if isinstance(attachments, list) else 0,
        "author_email": _obj(message, "author").get("email"),
    }


def _full_name(person: dict[str, Any]) -> str | None:
    parts = [person.get("first_name"), person.get("last_name")]
    name = " ".join(p for p in parts if isinstance(p, str) and p)
    return name or None


def _assignee(kind: str, target: dict[str, Any], conversation: dict[str, Any]) -> dict[str, Any]:
    """Rules say assign/unassign; app webhooks say assignee_changed with or without a target."""
    teammate = target or _obj(conversation, "assignee")
    unassign = kind == "unassign" or (kind == "assignee_changed" and not teammate)
    return {
        "assignee_id": teammate.get("id"),
        "assignee_email": teammate.get("email"),
        "assignee_name": _full_name(teammate) or teammate.get("username"),
        "is_unassign": unassign,
    }


def _comment(comment: dict[str, Any]) -> dict[str, Any]:
    author = _obj(comment, "author")
    return {
        "comment_id": comment.get("id"),
        "comment_body": comment.get("body") or "",
        "author_email": author.get("email"),
        "author_name": _full_name(author) or author.get("username"),
    }
