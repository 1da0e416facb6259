"""A recursive-descent parser that turns tokens into a tree of closures (evaluated later)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NoReturn

from joelclaw.expressions.lexer import MAX_DEPTH, _fail, _Token, _tokenize
from joelclaw.expressions.values import _BINARY, _FUNCTIONS, _get, _is_num, _truthy

Fn = Callable[[Mapping[str, Any]], Any]

_LEVELS: tuple[tuple[str, ...], ...] = (
    ("||",), ("&&",), ("==", "!="), ("<", "<=", ">", ">=", "in"), ("+", "-"))
_LEVELS += (("*", "/", "%"),)


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


