"""Flow-control options of a function, parsed and checked when the function is declared.

Each option is a small frozen dataclass; `parse_flow` turns the keyword arguments of
`@function(...)` into one `Flow` (or None when a function declares none, so the hot path of plain
functions never looks at flow control). Expressions are compiled here, once: a typo fails the
import with a FunctionDefinitionError naming the function and the option, never a run later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joelclaw.bus.functions.dedupe import ContentDedupe, Dedupe, SimilarDedupe
from joelclaw.durations import seconds
from joelclaw.errors import FunctionDefinitionError
from joelclaw.events.model import is_event_pattern
from joelclaw.expressions import Expression, ExpressionError, compile_expression

EVENT_NAMES = frozenset({"event"})
CANCEL_NAMES = frozenset({"event", "async"})
PRIORITY_RANGE = 600  # Inngest's default range for the priority factor, in seconds
SCOPES = ("fn", "shared")
SINGLETON_MODES = ("skip", "cancel")
OPTION_NAMES = ("concurrency", "throttle", "rate_limit", "debounce", "batch", "priority",
                "idempotency", "singleton", "cancel_on", "dedupe")


@dataclass(frozen=True)
class Concurrency:
    limit: int
    key: Expression | None = None
    scope: str = "fn"


@dataclass(frozen=True)
class Throttle:
    limit: int
    period: float
    burst: int = 0
    key: Expression | None = None


@dataclass(frozen=True)
class RateLimit:
    limit: int
    period: float
    key: Expression | None = None


@dataclass(frozen=True)
class Debounce:
    period: float
    key: Expression | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Batch:
    max_size: int
    timeout: float
    key: Expression | None = None


@dataclass(frozen=True)
class Singleton:
    mode: str = "skip"
    key: Expression | None = None


@dataclass(frozen=True)
class CancelOn:
    event: str
    match: str | None = None
    if_: str | None = None
    timeout: float | None = None


@dataclass(frozen=True)
class Flow:
    """Everything a function declared; absent options are None / empty."""

    concurrency: tuple[Concurrency, ...] = ()
    throttle: Throttle | None = None
    rate_limit: RateLimit | None = None
    debounce: Debounce | None = None
    batch: Batch | None = None
    priority: Expression | None = None
    idempotency: Expression | None = None
    singleton: Singleton | None = None
    cancel_on: tuple[CancelOn, ...] = ()
    dedupe: Dedupe | None = None

    @property
    def admits(self) -> bool:
        """Options decided once, when the run first starts (skip or not)."""
        return bool(self.rate_limit or self.idempotency or self.singleton or self.dedupe)

    @property
    def gated(self) -> bool:
        return bool(self.admits or self.throttle or self.concurrency)


class _Parser:
    """Reads one function's options; every error names the function and the option."""

    def __init__(self, function_id: str):
        self.fn = function_id

    def fail(self, option: str, message: str) -> FunctionDefinitionError:
        return FunctionDefinitionError(f"function {self.fn!r}: {option}: {message}")

    def mapping(self, option: str, value: Any, allowed: set[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(option, f"expected a dict with {sorted(allowed)}, got {value!r}")
        unknown = set(value) - allowed
        if unknown:
            raise self.fail(option, f"unknown field(s) {sorted(unknown)}; allowed "
                                    f"{sorted(allowed)}")
        return value

    def positive_int(self, option: str, value: Any, name: str, low: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(option, f"{name} must be an integer >= {low}, got {value!r}")
        return value

    def duration(self, option: str, value: Any, name: str) -> float:
        try:
            result = seconds(value)
        except (FunctionDefinitionError, TypeError):
            raise self.fail(option, f"{name} must be a duration like 30, '10s', '5m', "
                                    f"got {value!r}") from None
        if result <= 0:
            raise self.fail(option, f"{name} must be positive, got {value!r}")
        return result

    def expression(self, option: str, value: Any, names: frozenset[str] = EVENT_NAMES
                   ) -> Expression | None:
        if value is None:
            return None
        try:
            return compile_expression(value, names=names)
        except ExpressionError as exc:
            raise self.fail(option, str(exc)) from None

    # -- one method per option -----------------------------------------------------------

    def concurrency(self, value: Any) -> tuple[Concurrency, ...]:
        items = value if isinstance(value, list | tuple) else [value]
        if not 1 <= len(items) <= 2:
            raise self.fail("concurrency", "at most 2 constraints")
        return tuple(self._one_concurrency(item) for item in items)

    def _one_concurrency(self, item: Any) -> Concurrency:
        if isinstance(item, int) and not isinstance(item, bool):
            item = {"limit": item}
        spec = self.mapping("concurrency", item, {"limit", "key", "scope"})
        scope = spec.get("scope", "fn")
        if scope not in SCOPES:
            raise self.fail("concurrency", f"scope must be one of {SCOPES}, got {scope!r}")
        if scope == "shared" and spec.get("key") is None:
            raise self.fail("concurrency", "scope 'shared' needs a key")
        return Concurrency(limit=self.positive_int("concurrency", spec.get("limit"), "limit"),
                           key=self.expression("concurrency.key", spec.get("key")), scope=scope)

    def throttle(self, value: Any) -> Throttle:
        spec = self.mapping("throttle", value, {"limit", "period", "burst", "key"})
        return Throttle(limit=self.positive_int("throttle", spec.get("limit"), "limit"),
                        period=self.duration("throttle", spec.get("period"), "period"),
                        burst=self.positive_int("throttle", spec.get("burst", 0), "burst", 0),
                        key=self.expression("throttle.key", spec.get("key")))

    def rate_limit(self, value: Any) -> RateLimit:
        spec = self.mapping("rate_limit", value, {"limit", "period", "key"})
        return RateLimit(limit=self.positive_int("rate_limit", spec.get("limit"), "limit"),
                         period=self.duration("rate_limit", spec.get("period"), "period"),
                         key=self.expression("rate_limit.key", spec.get("key")))

    def debounce(self, value: Any) -> Debounce:
        spec = self.mapping("debounce", value, {"period", "key", "timeout"})
        timeout = spec.get("timeout")
        return Debounce(period=self.duration("debounce", spec.get("period"), "period"),
                        key=self.expression("debounce.key", spec.get("key")),
                        timeout=None if timeout is None
                        else self.duration("debounce", timeout, "timeout"))

    def batch(self, value: Any) -> Batch:
        spec = self.mapping("batch", value, {"max_size", "timeout", "key"})
        return Batch(max_size=self.positive_int("batch", spec.get("max_size"), "max_size"),
                     timeout=self.duration("batch", spec.get("timeout"), "timeout"),
                     key=self.expression("batch.key", spec.get("key")))

    def priority(self, value: Any) -> Expression | None:
        spec = self.mapping("priority", value, {"run"})
        if "run" not in spec:
            raise self.fail("priority", "expected {'run': '<expression>'}")
        return self.expression("priority.run", spec["run"])

    def idempotency(self, value: Any) -> Expression | None:
        if not isinstance(value, str):
            raise self.fail("idempotency", f"expected an expression string, got {value!r}")
        return self.expression("idempotency", value)

    def dedupe(self, value: Any) -> Dedupe:
        if not isinstance(value, ContentDedupe | SimilarDedupe):
            raise self.fail("dedupe", f"expected content(fields..., window=...) or "
                                      f"similar(field, threshold, window), got {value!r}")
        return value

    def singleton(self, value: Any) -> Singleton:
        spec = self.mapping("singleton", value, {"key", "mode"})
        mode = spec.get("mode", "skip")
        if mode not in SINGLETON_MODES:
            raise self.fail("singleton", f"mode must be one of {SINGLETON_MODES}, got {mode!r}")
        return Singleton(mode=mode, key=self.expression("singleton.key", spec.get("key")))

    def cancel_on(self, value: Any) -> tuple[CancelOn, ...]:
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(self._one_cancel(item) for item in items)

    def _one_cancel(self, item: Any) -> CancelOn:
        spec = self.mapping("cancel_on", item, {"event", "match", "if", "timeout"})
        event = spec.get("event")
        if not isinstance(event, str):
            raise self.fail("cancel_on", f"event must be an event name, got {event!r}")
        if not is_event_pattern(event):  # the same name rules as a trigger
            raise self.fail("cancel_on", f"invalid trigger {event!r}: expected an event name "
                                         "like 'todoist/comment.added' or a glob like 'todoist/*'")
        if spec.get("match") is not None and spec.get("if") is not None:
            raise self.fail("cancel_on", "give `match` or `if`, not both")
        match = spec.get("match")
        if match is not None and (not isinstance(match, str) or not match.strip()):
            raise self.fail("cancel_on", f"match must be a dotted path like 'data.id', "
                                         f"got {match!r}")
        self.expression("cancel_on.if", spec.get("if"), CANCEL_NAMES)
        timeout = spec.get("timeout")
        return CancelOn(event=event, match=match, if_=spec.get("if"),
                        timeout=None if timeout is None
                        else self.duration("cancel_on", timeout, "timeout"))


def parse_flow(function_id: str, options: Mapping[str, Any]) -> Flow | None:
    """Validate `@function(...)` flow options; None when there are none."""
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(OPTION_NAMES))
    if unknown:
        raise FunctionDefinitionError(
            f"function {function_id!r}: unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(OPTION_NAMES)}")
    if not given:
        return None
    parser = _Parser(function_id)
    flow = Flow(**{name: getattr(parser, name)(value) for name, value in given.items()})
    _check_combinations(parser, flow)
    return flow


def _check_combinations(parser: _Parser, flow: Flow) -> None:
    """Inngest's incompatibilities: batching with idempotency, rate limit, cancel_on, priority."""
    if flow.batch is not None:
        for name in ("idempotency", "rate_limit", "cancel_on", "priority", "debounce",
                     "dedupe"):
            if getattr(flow, name):
                raise parser.fail("batch", f"cannot be combined with {name}")


def priority_level(value: Any, default: int) -> int:
    """Map the priority factor (-600..600 s, higher first) onto broker levels (0 highest)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value == 0:
        return default
    factor = max(-PRIORITY_RANGE, min(PRIORITY_RANGE, float(value)))
    if factor > 0:
        return max(0, default - 1 - int((factor - 1) * default // PRIORITY_RANGE))
    room = 9 - default
    return min(9, default + 1 + int((-factor - 1) * room // PRIORITY_RANGE))


def key_value(expr: Expression | None, event: dict[str, Any]) -> str:
    """A key expression's value as text ("" when there is no key expression)."""
    if expr is None:
        return ""
    value = expr.evaluate({"event": event})
    return "" if value is None else str(value)
