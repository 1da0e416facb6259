"""Payload models of the events webhooks emit, by event name, and a builder that enforces them.

`joelclaw.events.registry` holds these models, so an event a provider emits carries the same
model its functions receive.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from joelclaw.events.payloads import (
    agents,
    backups,
    celery_tasks,
    checks,
    docs,
    front,
    github,
    media,
    memory,
    o11y,
    telegram,
    todoist,
    vercel,
)

PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    **github.MODELS,
    **todoist.MODELS,
    **front.MODELS,
    **vercel.MODELS,
    **telegram.MODELS,
    **memory.MODELS,
    **docs.MODELS,
    **backups.MODELS,
    **checks.MODELS,
    **agents.MODELS,
    **media.MODELS,
    **celery_tasks.MODELS,
    **o11y.MODELS,
}


def build_payload(name: str, fields: dict[str, Any]) -> BaseModel | dict[str, Any]:
    """The payload of event `name`: its model, checked; ValueError says which field is wrong.

    Providers build data through this, so a provider payload missing a required field becomes a
    clear 400; the event then carries the validated model (no second validation at send).
    """
    model = PAYLOAD_MODELS.get(name)
    if model is None:
        return fields
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'data'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"malformed payload for {name}: {problems}") from None


__all__ = ["PAYLOAD_MODELS", "build_payload"]
