"""Payloads of the todoist/* events (Todoist webhooks v1, ids are strings).

`user_id` is the account the webhook is for (the owner's: they authorized the app), and
`initiator_id` who did it; in a shared project that may be anyone. `by_owner` is true only when
Todoist reports the owner as the actor: only then does an event act for the owner.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from joelclaw.events.payloads.base import Payload


class _TodoistPayload(Payload):
    initiator_id: str | None = None
    user_id: str | None = None

    @property
    def by_owner(self) -> bool:
        return self.initiator_id is not None and self.initiator_id == self.user_id


class CommentAdded(_TodoistPayload):
    """A comment on a task: the agent's async conversation channel (ADR-0047)."""

    task_id: str
    comment_id: str
    comment_content: str
    task_content: str = ""
    project_id: str | None = None
    posted_at: str | None = None
    file_attachment: dict[str, Any] | None = None


class Task(_TodoistPayload):
    """A task was created, completed, updated or deleted; labels drive routing."""

    task_id: str
    task_content: str
    task_description: str = ""
    project_id: str | None = None
    section_id: str | None = None
    parent_id: str | None = None
    labels: list[str] = Field(default_factory=list)
    priority: int | None = None
    due: dict[str, Any] | None = None
    checked: bool | None = None
    completed_at: str | None = None
    update_intent: str | None = None
    changed_fields: list[str] = Field(default_factory=list)


MODELS: dict[str, type[BaseModel]] = {
    "todoist/comment.added": CommentAdded,
    "todoist/task.created": Task,
    "todoist/task.completed": Task,
    "todoist/task.updated": Task,
    "todoist/task.deleted": Task,
}
