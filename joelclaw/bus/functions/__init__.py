"""Functions as their authors declare them: `@function`, its triggers (`trigger`, `cron`,
`absent`), the flow options it may take (concurrency, throttle, debounce, dedupe, ...), and the
`Registry` that holds them by id. Depends on nothing else in the bus: every other room reads
these."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.functions.dedupe import content, content_hash, normalise, similar
    from joelclaw.bus.functions.options import Concurrency, Throttle, priority_level
    from joelclaw.bus.functions.registry import (
        CRON_TASK,
        Function,
        Registry,
        Trigger,
        absent,
        cron,
        function,
        next_fire,
        trigger,
    )

__all__ = [
    "CRON_TASK",
    "Concurrency",
    "Function",
    "Registry",
    "Throttle",
    "Trigger",
    "absent",
    "content",
    "content_hash",
    "cron",
    "function",
    "next_fire",
    "normalise",
    "priority_level",
    "similar",
    "trigger",
]

__getattr__, __dir__ = door(__name__, {
    "CRON_TASK": "registry:CRON_TASK",
    "Concurrency": "options:Concurrency",
    "Function": "registry:Function",
    "Registry": "registry:Registry",
    "Throttle": "options:Throttle",
    "Trigger": "registry:Trigger",
    "absent": "registry:absent",
    "content": "dedupe:content",
    "content_hash": "dedupe:content_hash",
    "normalise": "dedupe:normalise",
    "similar": "dedupe:similar",
    "cron": "registry:cron",
    "function": "registry:function",
    "next_fire": "registry:next_fire",
    "priority_level": "options:priority_level",
    "trigger": "registry:trigger",
})
