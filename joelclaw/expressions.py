"""A tiny, safe expression language (a CEL subset) for trigger filters, flow-control keys and
event matches such as `async.data.id == event.data.id`.

Sources are parsed once into a tree of closures; evaluating walks those closures and never
re-parses. Nothing reaches Python's `eval`, attributes or arbitrary calls: only mapping keys, list
indexes and a whitelist of functions. Evaluation prefers "no match" to a crash: missing keys, bad
indexes, type mismatches and division by zero all yield null (None) or False.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NoReturn

MAX_LENGTH = 1000
MAX_DEPTH = 40

Fn = Callable[[Mapping[str, Any]], Any]

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<ident>[A-Za-z_]\w*)"
    r"|(?P<op>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.()\[\],])|(?P<quote>['\"])|(?P<bad>\S))",
    re.ASCII,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_HINTS = {"&": "&&", "|": "||", "=": "=="}
_MAPS = (dict, Mapping)
_SEQS = (list, tuple)


class ExpressionError(ValueError):
    """A malformed expression; the message quotes the source and points at the column."""

    def __init__(self, message: str, *, source: str = "", column: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.column = column


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # num, str, ident, op, end
    value: Any
    pos: int

    def describe(self) -> str:
        if self.kind == "end":
            return "end of expression"
        return f"string {self.value!r}" if self.kind == "str" else repr(str(self.value))


def _fail(reason: str, source: str, pos: int, hint: str = "") -> NoReturn:
    shown = source if len(source) <= 80 else source[:77] + "..."
    message = f"{reason} at column {pos + 1} in {shown!r}" + (f"; {hint}" if hint else "")
    raise ExpressionError(message, source=source, column=pos + 1)


def _read_string(source: str, start: int) -> tuple[str, int]:
    """Reads a quoted literal from `start` (the quote); returns its value and the end position."""
    quote, out, i = source[start], [], start + 1
    while i < len(source):
        ch = source[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            esc = source[i + 1 : i + 2]
            if esc and esc not in _ESCAPES:
                _fail(f"unknown escape '\\{esc}'", source, i)
            out.append(_ESCAPES.get(esc, ""))
            i += 2
            continue
        out.append(ch)
        i += 1
    _fail("unterminated string", source, start)


def _tokenize(source: str) -> list[_Token]:
    """Splits the source into tokens, failing at the first character that cannot start one."""
    tokens, pos = [], 0
    while (m := _TOKEN_RE.match(source, pos)) is not None:
        start, kind = m.start(m.lastgroup or "bad"), m.lastgroup or "bad"
        if kind == "quote":
            value, pos = _read_string(source, start)
            tokens.append(_Token("str", value, start))
            continue
        text, pos = m.group(kind), m.end()
        if kind == "bad":
            hint = f"did you mean '{_HINTS[text]}'?" if text in _HINTS else ""
            _fail(f"unexpected character {text!r}", source, start, hint)
        value: Any = text
        if kind == "num":
            value = float(text) if any(c in text for c in ".eE") else int(text)
        tokens.append(_Token(kind, value, start))
    tokens.append(_Token("end", None, len(source)))
    return tokens


# --- runtime helpers: total functions that never raise on JSON-like data ---------------------


def _is_num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _truthy(x: Any) -> bool:
    try:
        return bool(x)
    except Exception:  # an exotic object whose __bool__ raises is simply falsy
        return False


def _get(obj: Any, key: Any) -> Any:
    if isinstance(obj, _MAPS):
        try:
            return obj.get(key)
        except TypeError:  # unhashable key
            return None
    if isinstance(obj, _SEQS) and type(key) is int and 0 <= key < len(obj):
        return obj[key]
    return None


def _string(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    try:
        if isinstance(x, str | int | float):
            return str(x)
        return json.dumps(x, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):  # mixed key types, an int too long to print
        return ""


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_num(a) and _is_num(b):
        return a == b
    if isinstance(a, _SEQS) and isinstance(b, _SEQS):
        return len(a) == len(b) and all(map(_eq, a, b))
    if isinstance(a, _MAPS) and isinstance(b, _MAPS):
        return a.keys() == b.keys() and all(_eq(a[k], b[k]) for k in a)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _in(item: Any, box: Any) -> bool:
    if isinstance(box, str):
        return isinstance(item, str) and item in box
    if isinstance(box, _SEQS):
        return any(_eq(item, x) for x in box)
    if isinstance(box, _MAPS):
        try:
            return item in box
        except TypeError:  # unhashable key
            return False
    return False


def _order(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """Orders numbers with numbers, strings with strings, bools with bools; else False."""

    def compare(a: Any, b: Any) -> bool:
        same = (_is_num(a) and _is_num(b)) or (type(a) is type(b) and type(a) in (str, bool))
        return op(a, b) if same else False

    return compare


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if not (_is_num(a) and _is_num(b)):
            return None
        try:
            return op(a, b)
        except (ZeroDivisionError, OverflowError):
            return None

    return apply


def _div(a: Any, b: Any) -> Any:
    """True division, but an int when two ints divide evenly (so keys read "3", not "3.0")."""
    if type(a) is int and type(b) is int and b and a % b == 0:
        return a // b
    return a / b


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, str) or isinstance(b, str):
        return _string(a) + _string(b)
    if isinstance(a, _SEQS) and isinstance(b, _SEQS):
        return [*a, *b]
    return _plus(a, b)


_plus = _arith(lambda a, b: a + b)
_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "==": _eq,
    "!=": lambda a, b: not _eq(a, b),
    "<": _order(lambda a, b: a < b),
    "<=": _order(lambda a, b: a <= b),
    ">": _order(lambda a, b: a > b),
    ">=": _order(lambda a, b: a >= b),
    "in": _in,
    "+": _add,
    "-": _arith(lambda a, b: a - b),
    "*": _arith(lambda a, b: a * b),
    "/": _arith(_div),
    "%": _arith(lambda a, b: a % b),
}
_LEVELS = (("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">=", "in"), ("+", "-"))
_LEVELS += (("*", "/", "%"),)


def _to_int(x: Any) -> Any:
    if isinstance(x, bool) or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return int(x.strip()) if isinstance(x, str) else int(x) if _is_num(x) else None


def _to_float(x: Any) -> Any:
    return float(x) if _is_num(x) or isinstance(x, str) else None


def _str_fn(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda *args: fn(*args) if all(isinstance(a, str) for a in args) else None


def _contains(box: Any, item: Any) -> Any:
    if isinstance(box, str):
        return item in box if isinstance(item, str) else None
    return _in(item, box) if isinstance(box, _SEQS + _MAPS) else None


_FUNCTIONS: dict[str, tuple[Callable[..., Any], int]] = {
    "size": (lambda x: len(x) if isinstance(x, (str, *_SEQS, *_MAPS)) else None, 1),
    "string": (_string, 1),
    "int": (_to_int, 1),
    "float": (_to_float, 1),
    "lower": (_str_fn(str.lower), 1),
    "upper": (_str_fn(str.upper), 1),
    "startsWith": (_str_fn(str.startswith), 2),
    "endsWith": (_str_fn(str.endswith), 2),
    "contains": (_contains, 2),
    "has": (lambda x: x is not None, 1),
}


def _call(impl: Callable[..., Any], args: list[Fn]) -> Fn:
    def run(v: Mapping[str, Any]) -> Any:
        try:
            return impl(*[a(v) for a in args])
        except (TypeError, ValueError, OverflowError):  # a bad conversion is null, not a crash
            return None

    return run


def _path(base: Fn, steps: list[tuple[bool, Any]]) -> Fn:
    """One closure for a whole chain like `event.data.items[0]`: fast, and no deep recursion."""
    if not steps:
        return base
    if all(static for static, _ in steps):
        keys = tuple(k for _, k in steps)

        def walk(v: Mapping[str, Any]) -> Any:
            obj = base(v)
            for key in keys:
                obj = _get(obj, key)
            return obj

        return walk

    def walk_dynamic(v: Mapping[str, Any]) -> Any:
        obj = base(v)
        for static, key in steps:
            obj = _get(obj, key if static else key(v))
        return obj

    return walk_dynamic


def _chain(first: Fn, rest: list[tuple[Callable[[Any, Any], Any], Fn]]) -> Fn:
    """Left-associative operators as one loop, so `a + b + c + ...` costs no recursion."""
    if len(rest) == 1:
        op, second = rest[0]
        return lambda v: op(first(v), second(v))

    def run(v: Mapping[str, Any]) -> Any:
        acc = first(v)
        for op, fn in rest:
            acc = op(acc, fn(v))
        return acc

    return run


def _logic(is_or: bool, fns: list[Fn]) -> Fn:
    """`||` / `&&`: short-circuit, always a bool; two operands (the usual case) skip the loop."""
    if len(fns) == 2:
        a, b = fns
        if is_or:
            return lambda v: _truthy(a(v)) or _truthy(b(v))
        return lambda v: _truthy(a(v)) and _truthy(b(v))
    if is_or:
        return lambda v: any(_truthy(f(v)) for f in fns)
    return lambda v: all(_truthy(f(v)) for f in fns)


def _ternary(cond: Fn, yes: Fn, no: Fn) -> Fn:
    return lambda v: yes(v) if _truthy(cond(v)) else no(v)


class _Parser:
    """Recursive descent over the levels in `_LEVELS`, with ternary below and unary above."""

    def __init__(self, source: str, names: frozenset[str] | None) -> None:
        self.source, self.names = source, names
        self.tokens, self.i, self.depth = _tokenize(source), 0, -1

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def at(self, *ops: str) -> bool:
        tok = self.tokens[self.i]
        return tok.kind in ("op", "ident") and tok.value in ops

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, op: str, hint: str = "") -> _Token:
        if not self.at(op):
            self.unexpected(hint or f"expected '{op}'")
        return self.take()

    def unexpected(self, hint: str = "") -> NoReturn:
        tok = self.peek()
        _fail(f"unexpected {tok.describe()}", self.source, tok.pos, hint)

    def parse(self) -> Fn:
        if self.peek().kind == "end":
            _fail("empty expression", self.source, 0)
        fn = self.expression()
        if self.peek().kind != "end":
            self.unexpected()
        return fn

    def nest(self, delta: int) -> None:
        self.depth += delta
        if self.depth > MAX_DEPTH:
            _fail(f"expression nested too deeply (limit {MAX_DEPTH})", self.source, self.peek().pos)

    def expression(self) -> Fn:
        self.nest(1)
        cond = self.binary(0)
        if self.at("?"):
            self.take()
            yes = self.expression()
            self.expect(":")
            no = self.expression()
            cond = _ternary(cond, yes, no)
        self.nest(-1)
        return cond

    def binary(self, level: int) -> Fn:
        if level == len(_LEVELS):
            return self.unary()
        first, rest = self.binary(level + 1), []
        while self.at(*_LEVELS[level]):
            rest.append((self.take().value, self.binary(level + 1)))
        if not rest:
            return first
        if level < 2:
            return _logic(level == 0, [first, *(fn for _, fn in rest)])
        return _chain(first, [(_BINARY[op], fn) for op, fn in rest])

    def unary(self) -> Fn:
        if not self.at("!", "-"):
            return self.postfix()
        op = self.take().value
        self.nest(1)
        operand = self.unary()
        self.nest(-1)
        if op == "!":
            return lambda v: not _truthy(operand(v))
        return lambda v: -x if _is_num(x := operand(v)) else None

    def postfix(self) -> Fn:
        base, steps = self.primary()
        while self.at(".", "["):
            if self.take().value == "[":
                key = self.expression()
                self.expect("]")
                steps.append((False, key))
                continue
            tok = self.take()
            if tok.kind != "ident":
                self.i -= 1
                self.unexpected("expected a field name after '.'")
            if not self.at("("):
                steps.append((True, tok.value))
                continue
            base, steps = self.call(tok, [_path(base, steps)]), []
        return _path(base, steps)

    def primary(self) -> tuple[Fn, list[tuple[bool, Any]]]:
        tok = self.take()
        if tok.kind in ("num", "str"):
            return (lambda v: tok.value), []
        if tok.kind == "ident" and tok.value in ("true", "false", "null"):
            value = {"true": True, "false": False, "null": None}[tok.value]
            return (lambda v: value), []
        if tok.kind == "ident" and tok.value != "in":
            if self.at("("):
                return self.call(tok, []), []
            if self.names is not None and tok.value not in self.names:
                hint = "expected one of: " + ", ".join(sorted(self.names))
                _fail(f"unknown name {tok.value!r}", self.source, tok.pos, hint)
            return (lambda v: v), [(True, tok.value)]
        if tok.kind == "op" and tok.value == "(":
            inner = self.expression()
            self.expect(")")
            return inner, []
        if tok.kind == "op" and tok.value == "[":
            items = self.items("]")
            return (lambda v: [f(v) for f in items]), []
        self.i -= 1
        self.unexpected()

    def items(self, close: str) -> list[Fn]:
        items: list[Fn] = []
        while not self.at(close):
            items.append(self.expression())
            if not self.at(close):
                self.expect(",", f"expected ',' or '{close}'")
        self.take()
        return items

    def call(self, name: _Token, receiver: list[Fn]) -> Fn:
        if name.value not in _FUNCTIONS:
            known = ", ".join(sorted(_FUNCTIONS))
            _fail(f"unknown function {name.value!r}", self.source, name.pos, f"known: {known}")
        impl, arity = _FUNCTIONS[name.value]
        self.expect("(")
        args = receiver + self.items(")")
        if len(args) != arity:
            style = f"{name.value}()" if not receiver else f"x.{name.value}()"
            want = arity - len(receiver)
            got = len(args) - len(receiver)
            _fail(
                f"{style} takes {want} argument{'s' * (want != 1)}, got {got}",
                self.source,
                name.pos,
            )
        return _call(impl, args)


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
