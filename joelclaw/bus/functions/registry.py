"""Declaring durable functions: an id, what triggers them, and how they retry.

A declaration is plain data: `@function(...)` returns a `Function` and registers nothing. The
`Registry` collects the functions found in the modules listed in settings, so what runs is exactly
what the configuration names (no import side effects).

A cron expression, a time zone or a flow option may come from the settings: give a function of
the settings (`cron(lambda s: s.backups.redis_cron, timezone=lambda s: s.timezone)`). It is read
when a runtime loads the function into its registry, with that runtime's settings, never when
the module is imported; the defaults are checked at declaration, so a typo still fails at import.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from joelclaw import keys
from joelclaw.bus.functions.options import Flow, parse_flow
from joelclaw.durations import crontab
from joelclaw.errors import FunctionDefinitionError
from joelclaw.events.model import Event, is_event_pattern
from joelclaw.expressions import Expression, ExpressionError, compile_expression

if TYPE_CHECKING:
    from joelclaw.config import Settings

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
DEFAULT_QUEUE = keys.FUNCTION_QUEUE
TASK_PREFIX = keys.FUNCTION_TASK_PREFIX
CRON_TASK = "joelclaw.cron"  # the one beat task every function cron sends (bus.celery.cron)
EVENT_NAMES = frozenset({"event"})
CATCH_UP_POLICIES = ("skip", "latest", "all")

Handler = Callable[..., Any]
T = TypeVar("T")
# An option read from the settings of the runtime that loads the function.
FromSettings = Callable[["Settings"], T]


@dataclass(frozen=True)
class Trigger:
    """An event name (exact or glob such as `todoist/*`) with an optional filter, or a cron."""

    event: str | None = None
    filter: Expression | None = None
    cron: str | None = None
    timezone: str = "UTC"
    # A cron's fires missed while nothing ran (joelclaw.bus.celery.catchup): skip, latest or all.
    catch_up: str = "latest"
    catch_up_cap: int = 10  # `all` runs at most this many of the missed fires (the newest)
    # An absence trigger (joelclaw.bus.flow.absence): a run when no `absent` event (name or glob,
    # `filter` applies) arrived for `absent_for` seconds, per value of `absent_key`.
    absent: str | None = None
    absent_for: float = 0.0
    absent_key: Expression | None = None
    # A cron read from the settings: the trigger a runtime's registry uses in this one's place.
    configure: Callable[[Settings], Trigger] | None = field(default=None, compare=False)

    @property
    def catch_up_text(self) -> str:
        return f"all, {self.catch_up_cap} at most" if self.catch_up == "all" else self.catch_up

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
            return f"cron {self.cron} ({self.timezone}, catch-up {self.catch_up_text})"
        if self.absent:
            from joelclaw.durations.humane import duration

            per = f" per {self.absent_key.source}" if self.absent_key else ""
            where = f" if {self.filter.source}" if self.filter else ""
            return f"absent {self.absent}{where} for {duration(self.absent_for)}{per}"
        return f"{self.event}" + (f" if {self.filter.source}" if self.filter else "")


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

    @property
    def reads_settings(self) -> bool:
        """Whether a trigger or an option is read from the settings (see the module's
        docstring)."""
        return any(t.configure for t in self.triggers) \
            or any(callable(v) for v in self.options.values())

    def configured(self, settings: Settings | None = None) -> Function:
        """This function with the triggers and options it reads from the settings read from
        `settings` (the defaults when None; itself when it reads none)."""
        if not self.reads_settings:
            return self
        settings = settings if settings is not None else _default_settings()
        options = {name: _read(value, settings) for name, value in self.options.items()}
        return replace(self, options=options, flow=parse_flow(self.id, options),
                       triggers=tuple(t.configure(settings) if t.configure else t
                                      for t in self.triggers))

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


def cron(expression: str | FromSettings[str], *, timezone: str | FromSettings[str] = "UTC",
         catch_up: str = "latest", cap: int = 10) -> Trigger:
    """A cron trigger; `TZ=Area/City 0 9 * * *` is accepted like Inngest's syntax. Either part
    may be read from the settings (a function of them): see the module's docstring.

    `catch_up` says what happens to fires missed while nothing ran (beat stopped, the machine
    asleep): `skip` them, run once for the `latest` (the default), or run `all` of them, the
    newest `cap` at most."""
    if catch_up not in CATCH_UP_POLICIES:
        raise FunctionDefinitionError(
            f"catch_up={catch_up!r}: expected one of {', '.join(CATCH_UP_POLICIES)}")
    if not isinstance(cap, int) or not 1 <= cap <= 1000:
        raise FunctionDefinitionError(f"cap={cap!r}: expected a whole number from 1 to 1000")
    if callable(expression) or callable(timezone):
        def configure(settings: Settings) -> Trigger:
            return cron(_read(expression, settings), timezone=_read(timezone, settings),
                        catch_up=catch_up, cap=cap)

        configure(_default_settings())  # the defaults make a valid trigger
        return Trigger(configure=configure, catch_up=catch_up, catch_up_cap=cap)
    if expression.startswith("TZ="):
        tz_part, _, expression = expression.partition(" ")
        timezone = tz_part[3:]
    expression = expression.strip()
    if not crontab.is_valid(expression):  # croniter's verdict (loaded for an unusual one)
        raise FunctionDefinitionError(f"invalid cron expression {expression!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FunctionDefinitionError(f"unknown time zone {timezone!r} in cron trigger") from None
    return Trigger(cron=expression, timezone=timezone, catch_up=catch_up, catch_up_cap=cap)


def next_fire(expression: str, timezone: str, moment: datetime) -> datetime:
    """When a cron fires next after `moment`, in its own zone: beat's schedule
    (`joelclaw.bus.celery.CronSchedule`) asks this, and so do the views that must not load
    Celery to say it (`joelclaw functions`)."""
    from croniter import croniter

    return croniter(expression, moment.astimezone(ZoneInfo(timezone))).get_next(datetime)


def absent(event: str, *, for_: str | float, key: str | None = None,
           if_: str | None = None) -> Trigger:
    """A run when no matching event arrived for `for_` (`"3d"`, `"90m"`, seconds), per value
    of `key` (an expression over the event: `"data.device"` or `"event.data.device"`); once per
    silence, and the next matching event starts a new one (joelclaw.bus.flow.absence)."""
    from joelclaw.durations import seconds

    if not is_event_pattern(event):
        raise FunctionDefinitionError(
            f"invalid absent trigger {event!r}: expected an event name or a glob")
    period = seconds(for_)
    if period <= 0:
        raise FunctionDefinitionError(f"absent trigger {event!r}: for_ must be positive")
    if key is not None and not key.strip().startswith("event"):
        key = f"event.{key.strip()}"
    where = f"absent trigger {event!r}"
    return Trigger(absent=event, absent_for=period, filter=_compile(if_, where),
                   absent_key=_compile(key, where))


def _read(value: T | FromSettings[T], settings: Settings) -> T:
    return value(settings) if callable(value) else value


@functools.cache
def _default_settings() -> Settings:
    """The settings' defaults, with nothing read from the environment or a file: built once,
    and only for a declaration that reads one, each concern validated when first read, so
    declaring a function builds no whole settings model (nor imports pydantic-settings)."""
    from joelclaw.config.quick import QuickSettings

    return cast("Settings", QuickSettings.defaults())  # answers every Settings attribute


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
    `priority`, `idempotency`, `singleton`, `cancel_on`, `dedupe`) are validated here, so a bad
    option or expression fails at import with a FunctionDefinitionError, not in a run.
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
    flow = parse_flow(id, {name: _read(value, _default_settings()) if callable(value) else value
                           for name, value in options.items()})

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

    def __init__(self, functions: Iterable[Function] = (), settings: Settings | None = None):
        self._settings = settings  # what functions read from the settings is read from these
        self._by_id: dict[str, Function] = {}
        self._by_event: dict[str, list[tuple[Function, Trigger]]] = {}
        self._globs: list[tuple[Function, Trigger]] = []
        self._absences: list[tuple[Function, int, Trigger]] = []
        for fn in functions:
            self.add(fn)

    @classmethod
    def from_modules(cls, modules: Iterable[str], settings: Settings | None = None) -> Registry:
        registry = cls(settings=settings)
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
        fn = fn.configured(self._settings)
        if fn.id in self._by_id and self._by_id[fn.id] is not fn:
            raise FunctionDefinitionError(f"two functions share the id {fn.id!r}")
        self._by_id[fn.id] = fn
        self._absences += [(fn, i, t) for i, t in enumerate(fn.triggers) if t.absent]
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

    def absences(self, event_name: str | None = None) -> list[tuple[Function, int, Trigger]]:
        """Absence triggers (function, trigger index, trigger), or those watching one event."""
        if event_name is None:
            return list(self._absences)
        return [(fn, i, t) for fn, i, t in self._absences
                if t.absent == event_name or fnmatch.fnmatchcase(event_name, t.absent or "")]

    def crons(self) -> Iterator[tuple[str, Function, Trigger]]:
        """Every cron trigger, with the name of its beat entry: the function's id for its first
        cron, `<id>#<n>` for the n-th after it (beat's schedule is built from these)."""
        for fn in self:
            for index, trig in enumerate(fn.crons):
                yield (fn.id if index == 0 else f"{fn.id}#{index}"), fn, trig

    def __iter__(self) -> Iterator[Function]:
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
        id=f"{fn.id}.on-failure", handler=fn.on_failure,  # type: ignore[arg-type]  # called only when set
        triggers=(Trigger(event=FAILED_EVENT, filter=flt),), retries=fn.retries, queue=fn.queue,
        description=f"on_failure handler of {fn.id}",
    )
