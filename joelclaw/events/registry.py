"""Payload models by event name: one registry, so an event is validated by the same model
wherever it enters (a webhook, the API, the CLI, a function's `send_event`).

The system's own models and the providers' are registered here; an application or an extension
adds its own with `register(name, Model)`. A name without a model carries free-form JSON.
"""

from __future__ import annotations

from pydantic import BaseModel

from joelclaw.events.payloads import PAYLOAD_MODELS
from joelclaw.events.payloads.system import SYSTEM_MODELS

_MODELS: dict[str, type[BaseModel]] = {**SYSTEM_MODELS, **PAYLOAD_MODELS}


def model_for(name: str) -> type[BaseModel] | None:
    return _MODELS.get(name)


def register(name: str, model: type[BaseModel]) -> None:
    """Give event `name` a payload model (e.g. from an application's function module)."""
    current = _MODELS.get(name)
    if current is not None and current is not model:
        raise ValueError(f"event {name!r} already has the payload model {current.__name__}")
    _MODELS[name] = model


def models() -> dict[str, type[BaseModel]]:
    """Every registered model by event name (a copy)."""
    return dict(_MODELS)
