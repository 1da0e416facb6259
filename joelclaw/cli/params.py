"""Parameter types the commands share: a bad value becomes a click usage error (exit 2) whose
envelope carries a code more precise than USAGE_ERROR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import click

from joelclaw.errors import FunctionDefinitionError


class CodedParam(click.ParamType):
    """A parameter type whose errors carry an envelope code more precise than USAGE_ERROR."""

    error_code = "USAGE_ERROR"

    def _fail(self, message: str, param: click.Parameter | None,
              ctx: click.Context | None) -> NoReturn:
        exc = click.BadParameter(message, ctx=ctx, param=param)
        exc.error_code = self.error_code  # type: ignore[attr-defined]  # read by failure_for
        raise exc


class Duration(CodedParam):
    """`30s`, `30m`, `1h`, `2d`, `1w` (or plain seconds) -> seconds, as everywhere else."""

    name = "duration"
    error_code = "INVALID_DURATION"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        from joelclaw.durations import seconds

        try:
            return seconds(value)
        except FunctionDefinitionError:
            self._fail(f"{value!r} is not a duration: use a number and a unit, e.g. 30m, 1h, 2d",
                       param, ctx)


class JsonObject(CodedParam):
    """A JSON object given inline, or `@path` to read it from a file."""

    name = "json"
    error_code = "INVALID_JSON"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> dict[str, Any]:
        from joelclaw.events import strictjson

        if isinstance(value, dict):
            return value
        text = str(value)
        if text.startswith("@"):
            text = self._read(text[1:], param, ctx)
        try:
            data = strictjson.loads(text)
        except json.JSONDecodeError as exc:
            self._fail(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
                       f"{text[:80]!r}", param, ctx)
        except (ValueError, RecursionError) as exc:  # NaN, Infinity, too deep
            self._fail(f"not valid JSON ({exc}): {text[:80]!r}", param, ctx)
        if not isinstance(data, dict):
            self._fail(f"must be a JSON object like '{{\"key\": 1}}', got {type(data).__name__}",
                       param, ctx)
        return data

    def _read(self, path: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return Path(path).read_text()
        except OSError as exc:
            self._fail(f"cannot read {path}: {exc.strerror}", param, ctx)


DURATION = Duration()
JSON_OBJECT = JsonObject()
