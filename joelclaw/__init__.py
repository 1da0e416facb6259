"""joelclaw: a durable-function bus on Celery and Redis.

The door for function authors: everything a function module needs comes from here,

    from joelclaw import Context, cron, function, trigger, NonRetriable

and event payload models from `joelclaw.events.payloads.*`. The rest of the package is the
engine; its modules may move. Names load on first use (`import joelclaw` stays cheap: the CLI
answers before it imports Redis or Celery). `joelclaw.send_event(name, data, id=...)` puts an
event on the bus from any process with the settings (a plain Celery task, a script).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.bus.execution import Context, Cooldowns, Step
    from joelclaw.bus.functions import (
        Function,
        Trigger,
        absent,
        content,
        cron,
        function,
        similar,
        trigger,
    )
    from joelclaw.client import install_task_hooks
    from joelclaw.config import Settings
    from joelclaw.coordination.locks import Lock
    from joelclaw.durations import Duration
    from joelclaw.errors import (
        ConfigError,
        Defer,
        EventError,
        FunctionDefinitionError,
        JoelclawError,
        NonRetriable,
        RetryAfter,
        StepError,
    )
    from joelclaw.events.model import Event
    from joelclaw.events.registry import register as register_payload
    from joelclaw.integrations.errors import IntegrationError

# name -> (module, attribute): where each public name lives today.
_EXPORTS: dict[str, tuple[str, str]] = {
    # declaring functions
    "function": ("joelclaw.bus.functions", "function"),
    "trigger": ("joelclaw.bus.functions", "trigger"),
    "cron": ("joelclaw.bus.functions", "cron"),
    "absent": ("joelclaw.bus.functions", "absent"),
    "Function": ("joelclaw.bus.functions", "Function"),
    "Trigger": ("joelclaw.bus.functions", "Trigger"),
    "content": ("joelclaw.bus.functions", "content"),
    "similar": ("joelclaw.bus.functions", "similar"),
    # what a function receives
    "Context": ("joelclaw.bus.execution", "Context"),
    "Step": ("joelclaw.bus.execution", "Step"),
    "Event": ("joelclaw.events.model", "Event"),
    "Duration": ("joelclaw.durations", "Duration"),
    "Settings": ("joelclaw.config", "Settings"),
    "Cooldowns": ("joelclaw.bus.execution", "Cooldowns"),
    "Lock": ("joelclaw.coordination.locks", "Lock"),
    # how a step or function ends
    "NonRetriable": ("joelclaw.errors", "NonRetriable"),
    "RetryAfter": ("joelclaw.errors", "RetryAfter"),
    "Defer": ("joelclaw.errors", "Defer"),
    "StepError": ("joelclaw.errors", "StepError"),
    "JoelclawError": ("joelclaw.errors", "JoelclawError"),
    "ConfigError": ("joelclaw.errors", "ConfigError"),
    "EventError": ("joelclaw.errors", "EventError"),
    "FunctionDefinitionError": ("joelclaw.errors", "FunctionDefinitionError"),
    "IntegrationError": ("joelclaw.integrations.errors", "IntegrationError"),  # a provider failed
    # from outside a function
    "install_task_hooks": ("joelclaw.client", "install_task_hooks"),
    "register_payload": ("joelclaw.events.registry", "register"),
}

__all__ = ["ConfigError", "Context", "Cooldowns", "Defer", "Duration", "Event", "EventError",
           "Function", "FunctionDefinitionError", "IntegrationError", "JoelclawError", "Lock",
           "NonRetriable", "RetryAfter", "Settings", "Step", "StepError", "Trigger", "absent",
           "content", "cron", "function", "install_task_hooks", "register_payload", "send_event",
           "similar", "trigger"]


def send_event(name: str, data: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Send one event to the bus (see `joelclaw.client.send_event`)."""
    from joelclaw.client import send_event as send

    return send(name, data, **kwargs)


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562); it is cached on the package after that."""
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module 'joelclaw' has no attribute {name!r}")
    value = getattr(importlib.import_module(where[0]), where[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
