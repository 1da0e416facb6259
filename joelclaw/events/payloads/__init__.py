"""Payload models of the events webhooks emit, by event name, and a builder that enforces them.

`joelclaw.events.registry` holds these models, so an event a provider emits carries the same
model its functions receive.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

# The modules whose MODELS make up PAYLOAD_MODELS, in this order. They are imported when
# PAYLOAD_MODELS is first read (PEP 562), not with this package: a function module importing one
# payload model (`from joelclaw.events.payloads.system import LogWritten`) builds that module's
# models only, so reading the registry (`joelclaw functions`) does not build every one.
PROVIDERS = ("github", "todoist", "front", "vercel", "telegram", "memory", "docs", "backups",
             "checks", "agents", "media", "celery_tasks", "o11y")

if TYPE_CHECKING:
    PAYLOAD_MODELS: dict[str, type[BaseModel]]


def __getattr__(name: str) -> Any:
    if name != "PAYLOAD_MODELS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _payload_models()


def _payload_models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] | None = globals().get("PAYLOAD_MODELS")
    if found is None:
        found = {}
        for provider in PROVIDERS:
            found.update(import_module(f"{__name__}.{provider}").MODELS)
        globals()["PAYLOAD_MODELS"] = found
    return found


def build_payload(name: str, fields: dict[str, Any]) -> BaseModel | dict[str, Any]:
    """The payload of event `name`: its model, checked; ValueError says which field is wrong.

    Providers build data through this, so a provider payload missing a required field becomes a
    clear 400; the event then carries the validated model (no second validation at send).
    """
    model = _payload_models().get(name)
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
