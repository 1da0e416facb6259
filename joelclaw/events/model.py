"""The event envelope: the one typed shape every event has on the bus."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_RE = re.compile(r"^[a-z0-9_.-]+/[a-z0-9_.-]+$")
MAX_NAME_LENGTH = 256


def now_ms() -> int:
    return int(time.time() * 1000)


def new_event_id() -> str:
    return "evt-" + uuid.uuid4().hex


class Event(BaseModel):
    """An event: `name` says what happened, `data` carries the payload, `id` deduplicates.

    Two events with the same `id` within 24 h trigger functions only once, so producers derive ids
    from what they observed (a webhook delivery id, a Telegram message id) rather than random ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    data: dict[str, Any] = Field(default_factory=dict)
    id: str = Field(default_factory=new_event_id, min_length=1, max_length=512)
    ts: int = Field(default_factory=now_ms, ge=0)
    v: str | None = None
    source: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, name: str) -> str:
        if len(name) > MAX_NAME_LENGTH or not NAME_RE.match(name):
            raise ValueError(
                f"invalid event name {name!r}: expected 'domain/noun.verb' in lowercase "
                "[a-z0-9_.-] on both sides of one '/', e.g. 'todoist/comment.added'"
            )
        return name

    @property
    def domain(self) -> str:
        return self.name.split("/", 1)[0]
