"""What every group of settings is built from: the variables' prefix, the base of the fields
mixins, and the helpers views and validators share.

Each concern declares its settings once, as fields of a mixin (`RedisFields`, `WebFields`, ...)
that `Settings` inherits, so the environment keeps flat names (JOELCLAW_REDIS_URL) while the
declarations live beside their concern. A mixin builds no validation schema of its own
(`defer_build`): only `Settings`, and the CLI's quick reader, pay for one.

A value reaches validation as the text of its variable (`Settings` decodes none: a list is JSON
or comma-separated, `split_list`; a mapping is JSON, `decode_json`), so a mixin validates a
concern's variables alone exactly as `Settings` does: nothing here needs pydantic-settings.
"""

from __future__ import annotations

import dataclasses
import json
import reprlib
from collections.abc import Callable
from dataclasses import field, fields
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from pydantic import ValidationInfo

PREFIX = "JOELCLAW_"
NO_REDIS = ("no Redis configured: set JOELCLAW_REDIS_URL, or run `joelclaw up`, which starts "
            "an embedded Redis and passes its URL to every process")
V = TypeVar("V")


class Fields(BaseModel):
    """The base of every fields mixin: declarations only, validated as part of a settings
    model."""

    model_config = ConfigDict(defer_build=True)


def shows(setting: str) -> Any:
    """A view field showing the setting `setting` (a credential is left out of its repr)."""
    secret = any(word in setting for word in ("token", "secret", "password", "api_key"))
    return field(metadata={"setting": setting}, repr=not secret)


def view(*, frozen: bool, slots: bool) -> Callable[[type[V]], type[V]]:
    """`@dataclass(frozen=True, slots=True)` for the views, as the CLI can afford it at start.

    A dataclass compiles its methods (`__init__`, `__repr__`, `__eq__`, `__hash__`, the frozen
    `__setattr__` and `__delattr__`) from source for each class: for the 27 views that was most
    of a CLI command's settings read. A view gets the same methods written once here, over its
    fields; `dataclasses` still declares the fields and the slots, so `dataclasses.fields`,
    `replace` and pickling work as on any dataclass (a test holds a view to the dataclass
    `@dataclass(frozen=True, slots=True)` makes of it). Type checkers see `dataclass` itself
    (`joelclaw.config.views`)."""
    if not (frozen and slots):
        raise TypeError("a view is a frozen dataclass with slots")

    def make(cls: type[V]) -> type[V]:
        for name, method in _VIEW_METHODS.items():
            if name in cls.__dict__:
                raise TypeError(f"{cls.__name__} defines {name}: a view's is generated")
            setattr(cls, name, method)
        if hasattr(cls, "__post_init__"):
            raise TypeError(f"{cls.__name__}: a view has no __post_init__")
        made: type[V] = dataclasses.dataclass(cls, init=False, repr=False, eq=False,
                                              slots=True)
        return made

    return make


def _view_init(self: Any, *args: Any, **kwargs: Any) -> None:
    declared = fields(self)
    if len(args) > len(declared):
        raise TypeError(f"{type(self).__name__}() takes {len(declared)} positional arguments "
                        f"but {len(args)} were given")
    values = dict(zip((f.name for f in declared), args, strict=False))
    for name, value in kwargs.items():
        if name in values:
            raise TypeError(f"{type(self).__name__}() got multiple values for argument "
                            f"{name!r}")
        values[name] = value
    unknown = set(values) - {f.name for f in declared}
    if unknown:
        raise TypeError(f"{type(self).__name__}() got an unexpected keyword argument "
                        f"{sorted(unknown)[0]!r}")
    for f in declared:
        if f.name in values:
            value = values[f.name]
        elif f.default is not dataclasses.MISSING:
            value = f.default
        elif f.default_factory is not dataclasses.MISSING:
            value = f.default_factory()
        else:
            raise TypeError(f"{type(self).__name__}() missing required argument: {f.name!r}")
        object.__setattr__(self, f.name, value)


# As a frozen dataclass on its own class: no attribute is ever set or deleted (every view is
# itself a dataclass, so the subclass case of dataclasses' check never arises).


def _view_setattr(self: Any, name: str, value: Any) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")


def _view_delattr(self: Any, name: str) -> None:
    raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")


@reprlib.recursive_repr()
def _view_repr(self: Any) -> str:
    shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self) if f.repr)
    return f"{type(self).__qualname__}({shown})"


def _view_eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    compared = [f.name for f in fields(self) if f.compare]
    return (tuple(getattr(self, n) for n in compared)
            == tuple(getattr(other, n) for n in compared))


def _view_hash(self: Any) -> int:
    return hash(tuple(getattr(self, f.name) for f in fields(self)
                      if (f.compare if f.hash is None else f.hash)))


def _view_getstate(self: Any) -> list[Any]:
    return [getattr(self, f.name) for f in fields(self)]


def _view_setstate(self: Any, state: list[Any]) -> None:
    for f, value in zip(fields(self), state, strict=False):
        object.__setattr__(self, f.name, value)


_VIEW_METHODS: dict[str, Callable[..., Any]] = {
    "__init__": _view_init, "__repr__": _view_repr, "__eq__": _view_eq,
    "__hash__": _view_hash, "__setattr__": _view_setattr, "__delattr__": _view_delattr,
    "__getstate__": _view_getstate, "__setstate__": _view_setstate}


def view_of(settings: Any, cls: type[V]) -> V:
    """The view `cls` of a settings object (any object with the settings as attributes)."""
    return cls(**{f.name: getattr(settings, f.metadata["setting"])
                  for f in fields(cls)})  # type: ignore[arg-type]  # cls is a view dataclass


def split_list(value: Any) -> Any:
    """A list setting from the environment: JSON (`["a", "b"]`) or comma-separated."""
    if isinstance(value, str):
        if value.strip().startswith("["):
            return json.loads(value)
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def decode_json(value: Any) -> Any:
    """A JSON setting from the environment (`{"todoist": {"failures": 3}}`): its text decoded
    (a value given in code is taken as it is). Settings are read undecoded, every value as the
    text of its variable, so each JSON field decodes its own: the CLI's quick reader, which
    validates without pydantic-settings, reads the same value."""
    return json.loads(value) if isinstance(value, str) else value


def valid_cron(model: type[BaseModel], value: str, info: ValidationInfo) -> str:
    """A cron expression (optionally `TZ=...` first); the shipped default is not parsed, so
    no CLI start loads croniter."""
    if info.field_name and value == model.model_fields[info.field_name].default:
        return value
    from joelclaw.durations import crontab

    if not crontab.is_valid(value.split(" ", 1)[1] if value.startswith("TZ=") else value):
        raise ValueError(f"not a cron expression: {value!r}")
    return value
