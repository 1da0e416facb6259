"""Declaring durable functions: an id, what triggers them, and how they retry.

A declaration is plain data: `@function(...)` returns a `Function` and registers nothing. The
`Registry` collects the functions found in the modules listed in settings, so what runs is exactly
what the configuration names (no import side effects).
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from joelclaw import keys
from joelclaw.bus.functions.options import Flow, parse_flow
from joelclaw.errors import FunctionDefinitionError
from joelclaw.events.model import Event, is_event_pattern
from joelclaw.expressions import Expression, ExpressionError, compile_expression

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
DEFAULT_QUEUE = keys.FUNCTION_QUEUE
TASK_PREFIX = "joelclaw.fn."
EVENT_NAMES = frozenset({"event"})

Handler = Callable[..., Any]


@dataclass(frozen=True)
class Trigger:
    """An event name (exact or glob such as `todoist/*`) with an optional filter, or a cron."""

    event: str | None = None
    filter: Expression | None = None
    cron: str | None = None
    timezone: str = "UTC"

    @property
    def is_glob(self) -> bool:
        return self.event is not None and any(ch in self.event for ch in "*?[")

    def matches(self, event: Event, event_dict: dict[str, Any]) -> bool:
        if self.event is None:
            return False
        if self.is_glob:
            if not fnmatch.fnmatchcase(event.name, self.event):
                return False
        elif self.event != event.name:
            return False
        return self.filter is None or bool(self.filter.evaluate({"event": event_dict}))

    def describe(self) -> str:
        if self.cron:
            return f"cron {self.cron} ({self.timezone})"
        return self.event + (f" if {self.filter.source}" if self.filter else "")


@dataclass(frozen=True)
class Function:
    """A durable function. Each one is its own Celery task named `joelclaw.fn.<id>`."""

    id: str
    handler: Handler
    triggers: tuple[Trigger, ...]
    retries: int | None = None
    queue: str = DEFAULT_QUEUE
    on_failure: Handler | None = None
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    flow: Flow | None = None  # None for plain functions: the hot path skips flow control

    @property
    def task_name(self) -> str:
        return TASK_PREFIX + self.id

    @property
    def doc(self) -> str:
        """The handler's whole docstring, indentation removed (`description` is its first
        line)."""
        return inspect.cleandoc(getattr(self.handler, "__doc__", None) or "")

    @property
    def crons(self) -> list[Trigger]:
        return [t for t in self.triggers if t.cron]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.handler(*args, **kwargs)


def trigger(event: str, *, if_: str | None = None) -> Trigger:
    """An event trigger; `if_` is an expression over `event` that must be truthy."""
    if not is_event_pattern(event):
        raise FunctionDefinitionError(
            f"invalid trigger {event!r}: expected an event name like 'todoist/comment.added' "
            "or a glob like 'todoist/*'"
        )
    return Trigger(event=event, filter=_compile(if_, f"trigger {event!r}"))


def cron(expression: str, *, timezone: str = "UTC") -> Trigger:
    """A cron trigger; `TZ=Area/City 0 9 * * *` is accepted like Inngest's syntax."""
    if expression.startswith("TZ="):
        tz_part, _, expression = expression.partition(" ")
        timezone = tz_part[3:]
    expression = expression.strip()
    if not croniter.is_valid(expression):
        raise FunctionDefinitionError(f"invalid cron expression {expression!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FunctionDefinitionError(f"unknown time zone {timezone!r} in cron trigger") from None
    return Trigger(cron=expression, timezone=timezone)


def _compile(source: str | None, where: str) -> Expression | None:
    if source is None:
        return None
    try:
        return compile_expression(source, names=EVENT_NAMES)
    except ExpressionError as exc:
        raise FunctionDefinitionError(f"{where}: {exc}") from None


def function(
    id: str,
    *,
    trigger: str | Trigger | None = None,
    triggers: Iterable[str | Trigger] = (),
    retries: int | None = None,
    queue: str = DEFAULT_QUEUE,
    on_failure: Handler | None = None,
    **options: Any,
) -> Callable[[Handler], Function]:
    """Declare a durable function: `@function("my-fn", trigger="app/thing.happened")`.

    Flow-control options (`concurrency`, `throttle`, `rate_limit`, `debounce`, `batch`,
    `priority`, `idempotency`, `singleton`, `cancel_on`) are validated here, so a bad option or
    expression fails at import with a FunctionDefinitionError, not in a run.
    """
    if not ID_RE.match(id):
        raise FunctionDefinitionError(
            f"invalid function id {id!r}: lowercase letters, digits, '-', '_' and '.'"
        )
    if retries is not None and not 0 <= retries <= 20:
        raise FunctionDefinitionError(f"function {id!r}: retries must be between 0 and 20")
    specs = [trigger] if trigger is not None else []
    specs.extend(triggers)
    if not specs:
        raise FunctionDefinitionError(f"function {id!r} has no trigger")
    parsed = tuple(_as_trigger(spec) for spec in specs)
    flow = parse_flow(id, options)

    def decorate(handler: Handler) -> Function:
        return Function(
            id=id, handler=handler, triggers=parsed, retries=retries, queue=queue,
            on_failure=on_failure, description=(handler.__doc__ or "").strip().split("\n")[0],
            options=dict(options), flow=flow,
        )

    return decorate


def _as_trigger(spec: str | Trigger) -> Trigger:
    return spec if isinstance(spec, Trigger) else trigger(spec)


class Registry:
    """The functions this process knows, indexed for fast event routing."""

    def __init__(self, functions: Iterable[Function] = ()):
        self._by_id: dict[str, Function] = {}
        self._by_event: dict[str, list[tuple[Function, Trigger]]] = {}
        self._globs: list[tuple[Function, Trigger]] = []
        for fn in functions:
            self.add(fn)

    @classmethod
    def from_modules(cls, modules: Iterable[str]) -> Registry:
        registry = cls()
        for name in modules:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise FunctionDefinitionError(
                    f"cannot import function module {name!r} (JOELCLAW_FUNCTION_MODULES): {exc}"
                ) from None
            for value in vars(module).values():
                if isinstance(value, Function) and value.id not in registry._by_id:
                    registry.add(value)
        return registry

    def add(self, fn: Function) -> None:
        if fn.id in self._by_id and self._by_id[fn.id] is not fn:
            raise FunctionDefinitionError(f"two functions share the id {fn.id!r}")
        self._by_id[fn.id] = fn
        for trig in fn.triggers:
            if trig.event is None:
                continue
            if trig.is_glob:
                self._globs.append((fn, trig))
            else:
                self._by_event.setdefault(trig.event, []).append((fn, trig))
        if fn.on_failure is not None:
            self.add(_failure_handler(fn))

    def get(self, function_id: str) -> Function | None:
        return self._by_id.get(function_id)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(sorted(self._by_id.values(), key=lambda f: f.id))

    def __len__(self) -> int:
        return len(self._by_id)

    def triggered_by(self, event: Event, as_dict: dict[str, Any] | None = None
                     ) -> list[Function]:
        """Every function one event starts, each once, in a stable order."""
        candidates = self._by_event.get(event.name, []) + self._globs
        if not candidates:
            return []
        as_dict = as_dict if as_dict is not None else event.as_dict()
        seen: dict[str, Function] = {}
        for fn, trig in candidates:
            if fn.id not in seen and trig.matches(event, as_dict):
                seen[fn.id] = fn
        return list(seen.values())


FAILED_EVENT = "joelclaw/function.failed"
CANCELLED_EVENT = "joelclaw/function.cancelled"
INVOKED_EVENT = "joelclaw/function.invoked"


def _failure_handler(fn: Function) -> Function:
    """`on_failure` runs as its own function, triggered by this function's failure event."""
    flt = compile_expression(f'event.data.function_id == "{fn.id}"', names=EVENT_NAMES)
    return Function(
        id=f"{fn.id}.on-failure", handler=fn.on_failure,  # type: ignore[arg-type]
        triggers=(Trigger(event=FAILED_EVENT, filter=flt),), retries=fn.retries, queue=fn.queue,
        description=f"on_failure handler of {fn.id}",
    )
