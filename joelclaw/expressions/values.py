"""What operators and whitelisted functions do to JSON-like values: never raise, prefer null."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

_MAPS = (dict, Mapping)
_SEQS = (list, tuple)


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


