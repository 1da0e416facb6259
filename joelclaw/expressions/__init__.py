"""A tiny, safe expression language (a CEL subset) for trigger filters, flow-control keys and
event matches such as `async.data.id == event.data.id`.

Sources are parsed once into a tree of closures; evaluating walks those closures and never
re-parses. Nothing reaches Python's `eval`, attributes or arbitrary calls: only mapping keys, list
indexes and a whitelist of functions. Evaluation prefers "no match" to a crash: missing keys, bad
indexes, type mismatches and division by zero all yield null (None) or False.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from joelclaw.expressions.lexer import MAX_DEPTH, MAX_LENGTH, ExpressionError, _fail
from joelclaw.expressions.parser import Fn, _Parser

__all__ = [
    "MAX_DEPTH", "MAX_LENGTH", "Expression", "ExpressionError", "compile_expression", "evaluate",
]


@dataclass(frozen=True)
class Expression:
    """A compiled expression: immutable, hashable by source, picklable (recompiled on load)."""

    source: str
    _fn: Fn = field(repr=False, compare=False)

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """Evaluates against `variables` (e.g. {"event": {...}}); returns None for no value."""
        try:
            return self._fn(variables)
        except Exception as exc:  # a safety net: data we never anticipated, or runaway recursion
            raise ExpressionError(
                f"could not evaluate {self.source!r}: {type(exc).__name__}", source=self.source
            ) from None

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return _cached, (self.source,)


def compile_expression(source: str, *, names: frozenset[str] | None = None) -> Expression:
    """Parses and checks `source` once; `names` limits the root variables it may use."""
    if not isinstance(source, str):
        raise ExpressionError(f"expression must be a string, not {type(source).__name__}")
    if len(source) > MAX_LENGTH:
        _fail(
            f"expression too long ({len(source)} characters, limit {MAX_LENGTH})",
            source,
            MAX_LENGTH,
        )
    try:
        return Expression(source, _Parser(source, names).parse())
    except RecursionError:  # only when the caller's own stack is already nearly full
        _fail("expression nested too deeply", source, 0)


@lru_cache(maxsize=512)
def _cached(source: str) -> Expression:
    return compile_expression(source)


def evaluate(source: str, variables: Mapping[str, Any]) -> Any:
    """Compiles (cached) and evaluates; any root name is allowed, and a missing one is null."""
    return _cached(source).evaluate(variables)

