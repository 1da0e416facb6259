"""Payload models per event name. An event whose name has a model must match it when sent;
other events carry free-form JSON. A payload that fails is rejected with the field and reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from joelclaw.errors import EventError
from joelclaw.events.limits import check_size
from joelclaw.events.model import Event


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class LogWritten(_Payload):
    action: str
    tool: str
    detail: str
    reason: str | None = None


class HeartbeatWake(_Payload):
    pass


class FunctionFailed(_Payload):
    function_id: str
    run_id: str
    error: dict[str, Any]
    event: dict[str, Any]


class FunctionCancelled(_Payload):
    function_id: str
    run_id: str
    event: dict[str, Any]
    reason: str | None = None


class HealthRequested(_Payload):
    mode: str = "core"
    source: str | None = None
    component: str | None = None


SYSTEM_MODELS: dict[str, type[BaseModel]] = {
    "system/log.written": LogWritten,
    "system/heartbeat.wake": HeartbeatWake,
    "system/health.requested": HealthRequested,
    "joelclaw/function.failed": FunctionFailed,
    "joelclaw/function.cancelled": FunctionCancelled,
}


def payload_models() -> dict[str, type[BaseModel]]:
    """System models plus the provider payloads the webhooks emit."""
    models = dict(SYSTEM_MODELS)
    try:
        from joelclaw.events.payloads import PAYLOAD_MODELS
    except ImportError:  # pragma: no cover - the provider payloads are optional
        PAYLOAD_MODELS = {}
    models.update(PAYLOAD_MODELS)
    return models


_MODELS: dict[str, type[BaseModel]] | None = None


def model_for(name: str) -> type[BaseModel] | None:
    global _MODELS
    if _MODELS is None:
        _MODELS = payload_models()
    return _MODELS.get(name)


def validate_payload(event: Event) -> Event:
    """Raise EventError naming the field when the payload does not fit the event's model."""
    model = model_for(event.name)
    if model is None:
        return event
    try:
        model.model_validate(event.data)
    except ValidationError as exc:
        problems = "; ".join(
            f"data.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise EventError(f"invalid payload for {event.name}: {problems}") from None
    return event


def parse_event(raw: Any) -> Event:
    """An Event from untrusted JSON, or EventError with a readable reason."""
    if not isinstance(raw, dict):
        raise EventError("an event must be a JSON object with at least a 'name'")
    check_size(raw)
    try:
        event = Event.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'event'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise EventError(f"invalid event: {problems}") from None
    return validate_payload(event)
