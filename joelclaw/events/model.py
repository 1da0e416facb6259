"""The event envelope: the one typed shape every event has on the bus.

`data` is validated once, where the event is built: when the event's name has a payload model
(`joelclaw.events.registry`), `data` *is* that model (`event.data.task_id`), otherwise a JSON
object (`event.data["x"]`). A payload that fails its model raises EventError naming the field.
`Event[Model]` tells an editor which model `data` holds.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any, Generic

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from typing_extensions import TypeVar

from joelclaw.errors import EventError

NAME_RE = re.compile(r"^[a-z0-9_.-]+/[a-z0-9_.-]+$")
MAX_NAME_LENGTH = 256

P = TypeVar("P", default=Any)  # an Event whose payload type is not named is an Event[Any]


def is_event_pattern(pattern: str) -> bool:
    """An event name, or a glob of names such as `todoist/*` (for triggers and cancel_on)."""
    plain = pattern.replace("*", "x").replace("?", "x").replace("[", "x").replace("]", "x")
    return len(pattern) <= MAX_NAME_LENGTH and bool(NAME_RE.match(plain))


def now_ms() -> int:
    return int(time.time() * 1000)


def new_event_id() -> str:
    return "evt-" + uuid.uuid4().hex


class Event(BaseModel, Generic[P]):
    """An event: `name` says what happened, `data` carries the payload, `id` deduplicates.

    Two events with the same `id` within 24 h trigger functions only once, so producers derive ids
    from what they observed (a webhook delivery id, a Telegram message id) rather than random ones.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    data: P = Field(default_factory=dict)  # type: ignore[assignment]  # {} until a model parses it
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

    @field_validator("data", mode="before")
    @classmethod
    def _typed_payload(cls, value: Any, info: ValidationInfo) -> Any:
        """The payload model of this name, or a JSON object (EventError names a bad field).
        The registry, and with it every payload model, is imported by the first event built:
        declaring a trigger (a function module read by `joelclaw functions`) builds none."""
        from joelclaw.events.registry import model_for

        name = info.data.get("name")
        model = model_for(name) if isinstance(name, str) else None
        if model is None:
            if isinstance(value, BaseModel):
                return value.model_dump(mode="json")
            if not isinstance(value, dict):
                raise ValueError("data must be a JSON object")
            return value
        if isinstance(value, model):
            return value
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise EventError(f"invalid payload for {name}: {describe(exc, 'data')}") from None

    @property
    def domain(self) -> str:
        return self.name.split("/", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        """The wire form (JSON types only), as stored and as matched by expressions."""
        return self.model_dump(mode="json")


def describe(exc: ValidationError, prefix: str = "") -> str:
    """A ValidationError as `path: reason; path: reason`."""
    parts = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        path = f"{prefix}.{path}" if prefix and path else (prefix or path or "event")
        parts.append(f"{path}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)
