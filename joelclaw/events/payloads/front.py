"""Payloads of the front/* events, shared by rules webhooks and application webhooks."""

from __future__ import annotations

from pydantic import BaseModel, Field

from joelclaw.events.payloads.base import Payload


class _Conversation(Payload):
    conversation_id: str
    front_event_id: str | None = None
    front_type: str | None = None


class Message(_Conversation):
    """An email in or out; `from_email` avoids the Python keyword `from`."""

    message_id: str | None = None
    from_email: str | None = None
    from_name: str | None = None
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    subject: str = ""
    body: str = ""
    body_plain: str = ""
    preview: str = ""
    is_inbound: bool
    attachment_count: int = 0
    author_email: str | None = None


class MessageReceived(Message):
    message_id: str


class AssigneeChanged(_Conversation):
    assignee_id: str | None = None
    assignee_email: str | None = None
    assignee_name: str | None = None
    is_unassign: bool = False


class ConversationChanged(_Conversation):
    action: str
    subject: str | None = None
    status: str | None = None


class TagChanged(_Conversation):
    tag_id: str | None = None
    tag_name: str | None = None


class CommentAdded(_Conversation):
    comment_id: str | None = None
    comment_body: str = ""
    author_email: str | None = None
    author_name: str | None = None


CONVERSATION_VERBS = ("archived", "reopened", "moved", "trashed", "restored", "deleted")

MODELS: dict[str, type[BaseModel]] = {
    "front/message.received": MessageReceived,
    "front/message.sent": Message,
    "front/assignee.changed": AssigneeChanged,
    "front/tag.added": TagChanged,
    "front/tag.removed": TagChanged,
    "front/comment.added": CommentAdded,
    **{f"front/conversation.{verb}": ConversationChanged for verb in CONVERSATION_VERBS},
}
