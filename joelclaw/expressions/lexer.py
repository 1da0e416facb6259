"""Tokens and the one error type: where an expression stops making sense, with its column."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn

from joelclaw.errors import JoelclawError

MAX_LENGTH = 1000
MAX_DEPTH = 40

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<ident>[A-Za-z_]\w*)"
    r"|(?P<op>\|\||&&|==|!=|<=|>=|[-+*/%!<>?:.()\[\],])|(?P<quote>['\"])|(?P<bad>\S))",
    re.ASCII,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}
_HINTS = {"&": "&&", "|": "||", "=": "=="}

class ExpressionError(JoelclawError, ValueError):
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
    quote, i = source[start], start + 1
    out: list[str] = []
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
            literal, pos = _read_string(source, start)
            tokens.append(_Token("str", literal, start))
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


