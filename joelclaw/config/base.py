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

import json
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
    from croniter import croniter

    if not croniter.is_valid(value.split(" ", 1)[1] if value.startswith("TZ=") else value):
        raise ValueError(f"not a cron expression: {value!r}")
    return value
