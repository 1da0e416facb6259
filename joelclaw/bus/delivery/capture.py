"""A run's broker message as Redis commands, for a Lua script to write with the run itself.

Celery builds the message (task name, headers, explicit priority, signals) and kombu's Redis
transport routes and encodes it exactly as it would publish it (the LPUSH to the queue's list for
that priority, and the PEXPIREs of a queue with an expiry); only the last hop changes: kombu
hands those commands to us instead of sending them. So Flower, `celery inspect` and `celery
purge` see such a message as any other, and the sender saves the publish's round trip.

This is kombu's own batch hook (`Producer.batch` sets a state on the producer's thread-local,
which routes a publish through the channel's `basic_publish(..., _publish_batch=...)`); we set
a state that collects instead of buffering into a pipeline.

Building a message through Celery costs more than the rest of a send (routing, headers,
`saferepr` of the arguments, the producer pool, the queue declaration), and every run of one
function on one priority gets the same message but for its ids, its run id and its ready time.
So the first one is built by Celery and kept, per process, as a template; later ones are that
template with those filled in, checked once when the template is made (filled with the first
message's own values it must give back exactly the message Celery built, or it is never used).
Whenever Celery would add something of its own (inside a worker's task: the parent's ids; a
publish signal has receivers; sent events are on), Celery builds every message instead.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from celery import signals
from kombu.utils.json import dumps, loads

from joelclaw.bus.delivery.publish import DEFAULT_PRIORITY, broker_priority

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

WRITES = frozenset({"lpush", "pexpire"})  # all kombu's Redis transport writes to publish


class _Collect:
    """Stands in for kombu's batch state on one producer, for one publish."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, tuple[Any, ...]]] = []

    def publish(self, channel: Any, message: Any, **kwargs: Any) -> Any:
        return channel.basic_publish(message, _publish_batch=self, **kwargs)

    def add(self, name: str, *args: Any) -> None:
        self.commands.append((name, args))


def same_server(bus: Bus) -> bool:
    """The broker is the state Redis (one script can write the run and its message)."""
    return bus.broker_url == bus.redis_url and bus.broker_url.startswith(("redis://",
                                                                          "rediss://"))


def run_message(bus: Bus, fn: Function, run_id: str, *, ready_at: float | None = None,
                priority: int | None = None) -> list[list[str]] | None:
    """The commands that publish `run_id` as `publish_run` would, unsent; None when the
    broker is another server or the transport cannot hand them over (publish normally)."""
    if not same_server(bus):
        return None
    level = broker_priority(bus, DEFAULT_PRIORITY if priority is None else priority)
    ready = ready_at or time.time()
    app = bus.celery
    if not _celery_adds_nothing(app, fn.task_name):
        return _built(bus, fn, run_id, ready, level)
    templates = _TEMPLATES.setdefault(app, {})
    cache_key = (fn.task_name, fn.queue, level, os.getpid())
    template = templates.get(cache_key, _UNKNOWN)
    if template is _UNKNOWN:
        commands = _built(bus, fn, run_id, ready, level)
        templates[cache_key] = _Template.of(commands, run_id, ready, app)
        return commands
    if template is None:  # Celery's message could not be reproduced: Celery builds each
        return _built(bus, fn, run_id, ready, level)
    return template.fill(run_id, ready)


def _built(bus: Bus, fn: Function, run_id: str, ready: float, level: int
           ) -> list[list[str]] | None:
    """The commands of the message Celery builds and kombu routes (see the module's doc)."""
    app = bus.celery
    collect = _Collect()
    with app.producer_or_acquire() as producer:
        if not hasattr(producer.channel, "create_publish_batch"):
            return None
        producer._batch_local.current = collect
        try:
            app.send_task(
                fn.task_name, args=[run_id], kwargs={"member": None, "ready_at": ready},
                queue=fn.queue, producer=producer, priority=level)
        finally:
            del producer._batch_local.current
    if not collect.commands or any(name not in WRITES for name, _ in collect.commands):
        return None
    return [[name.upper(), *(_text(arg) for arg in args)] for name, args in collect.commands]


def _celery_adds_nothing(app: Any, task_name: str) -> bool:
    """Celery would put nothing of the moment into this task's message: not inside a task
    (whose ids become the parent's), nobody listening to its publish signals (a receiver for
    other tasks' alone does not count), no sent events."""
    return (app.current_worker_task is None
            and not signals.before_task_publish.has_listeners(task_name)
            and not signals.after_task_publish.has_listeners(task_name)
            and not app.conf.task_send_sent_event)


_UNKNOWN: Any = object()


@dataclass(frozen=True)
class _Template:
    """One function's message on one priority list, but for its ids, run id and ready time."""

    commands: list[list[str]]  # as built, the message's LPUSH among them
    index: int  # of the LPUSH
    message: dict[str, Any]  # the pushed message, parsed
    embed: Any  # the body's third part (callbacks, errbacks, chain, chord)

    @classmethod
    def of(cls, commands: list[list[str]] | None, run_id: str, ready: float, app: Any
           ) -> _Template | None:
        """The template of Celery's message, if filling it with that message's own values
        gives back exactly that message (else None: Celery builds every message)."""
        if commands is None or app.current_worker_task is not None:
            return None
        pushes = [i for i, command in enumerate(commands) if command[0] == "LPUSH"]
        if len(pushes) != 1 or len(commands[pushes[0]]) != 3:
            return None
        try:
            message = loads(commands[pushes[0]][2])
            headers, properties = message["headers"], message["properties"]
            body = loads(base64.b64decode(message["body"]))
            task_id = headers["id"]
            template = cls(commands, pushes[0], message, body[2])
            if (properties.get("body_encoding") != "base64" or headers.get("parent_id")
                    or headers.get("group") or headers.get("root_id") != task_id
                    or properties.get("correlation_id") != task_id):
                return None
            again = template.fill(run_id, ready, task_id, properties["delivery_tag"])
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        return template if again == commands else None

    def fill(self, run_id: str, ready: float, task_id: str | None = None,
             tag: str | None = None) -> list[list[str]]:
        task_id = task_id or str(uuid.uuid4())
        args, kwargs = [run_id], {"member": None, "ready_at": ready}
        message = dict(self.message)
        message["body"] = base64.b64encode(
            dumps([args, kwargs, self.embed]).encode("utf-8")).decode("ascii")
        message["headers"] = {**message["headers"], "id": task_id, "root_id": task_id,
                              "argsrepr": repr(args), "kwargsrepr": repr(kwargs)}
        message["properties"] = {**message["properties"], "correlation_id": task_id,
                                 "delivery_tag": tag or str(uuid.uuid4())}
        commands = list(self.commands)
        push = commands[self.index]
        commands[self.index] = [push[0], push[1], dumps(message)]
        return commands


# Per Celery app (its reply address and settings are in the message), forgotten with it.
_TEMPLATES: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], _Template | None]] = \
    weakref.WeakKeyDictionary()


def _text(arg: Any) -> str:
    if isinstance(arg, bytes):
        return arg.decode()
    return str(arg)
