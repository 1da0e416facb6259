"""The CLI's quick read of the settings its read commands use, without building `Settings`.

`joelclaw runs` needs Redis's URL, the home, the runs' retention and Flower's address; building
the whole settings model (and importing pydantic-settings) would cost it a third of its start.
`QuickSettings` validates just the core settings (`SystemFields`, `RedisFields`, `RunFields`,
`FlowerFields`: the same declarations and validators `Settings` uses, read from the same
sources in the same order: the environment over `.env`, names in any case) and reads the whole
`Settings` the first time anything else is asked of it. A bad core value is reported by
`load_settings` itself, so its message is the one every other command gives. Other settings are
validated when first read (lazily): a command that reads none of them answers even if one is
wrong. A test holds that both readers agree.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ConfigDict, ValidationError

from joelclaw.config.base import NO_REDIS, PREFIX, view_of
from joelclaw.config.core import RedisFields, RunFields, SystemFields
from joelclaw.config.views import FlowerSettings, RedisSettings, RunSettings, setting_names
from joelclaw.config.web import FlowerFields
from joelclaw.errors import ConfigError

if TYPE_CHECKING:
    from joelclaw.config.settings import Settings

ENV_FILE = ".env"  # as `Settings` reads it: relative to the working directory


class CoreSettings(SystemFields, RedisFields, RunFields, FlowerFields):
    """The settings the CLI's read commands use, validated as `Settings` validates them."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=False)


def sources(env_file: str | None = ENV_FILE) -> dict[str, str]:
    """Every `JOELCLAW_*` value as `Settings` finds it, by setting name: the `.env` file under
    the environment, variable names in any case (pydantic-settings' `case_sensitive=False`)."""
    prefix = PREFIX.lower()
    found: dict[str, str] = {}
    if env_file and Path(env_file).expanduser().is_file():
        from dotenv import dotenv_values

        for name, value in dotenv_values(Path(env_file).expanduser()).items():
            if value is not None and name.lower().startswith(prefix):
                found[name.lower()[len(prefix):]] = value
    for name, value in os.environ.items():
        if name.lower().startswith(prefix):
            found[name.lower()[len(prefix):]] = value
    return found


class QuickSettings:
    """`Settings` as the read commands see it: the core settings read at once, anything else
    from the whole `Settings`, read (and validated) on first need."""

    def __init__(self, env_file: str | None = ENV_FILE) -> None:
        from joelclaw.config.loading import warn_unknown_variables

        warn_unknown_variables(setting_names())
        self._env_file = env_file
        self._values = sources(env_file)
        core = {name: value for name, value in self._values.items()
                if name in CoreSettings.model_fields}
        try:
            self.core = CoreSettings.model_validate(core)
        except ValidationError:  # load_settings raises, naming the variable as it always does
            full = self._full()
            self.core = CoreSettings.model_validate(
                {name: getattr(full, name) for name in CoreSettings.model_fields})

    def _full(self) -> Settings:
        full: Settings | None = self.__dict__.get("_settings")
        if full is None:
            import warnings

            from joelclaw.config.loading import load_settings

            with warnings.catch_warnings():  # the unknown variables were named already
                warnings.simplefilter("ignore")
                full = load_settings(_env_file=self._env_file)
            self.__dict__["_settings"] = full
        return full

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name in CoreSettings.model_fields:
            return getattr(self.core, name)
        return getattr(self._full(), name)

    @cached_property
    def home_dir(self) -> Path:
        return self.core.home.expanduser().resolve()

    @cached_property
    def redis(self) -> RedisSettings:
        return view_of(self.core, RedisSettings)

    @cached_property
    def runs(self) -> RunSettings:
        return view_of(self.core, RunSettings)

    @cached_property
    def flower(self) -> FlowerSettings:
        return view_of(self.core, FlowerSettings)

    def require_redis_url(self) -> str:
        if not self.core.redis_url:
            raise ConfigError(NO_REDIS)
        return self.core.redis_url

    def secrets(self) -> tuple[str, ...]:
        """The configured secrets, as `redaction.configured_secrets` finds them in `Settings`
        (every setting named as a secret, passwords in the Redis URLs), without building it."""
        from joelclaw.redaction import secrets_among

        known = setting_names()
        return secrets_among([(name, value) for name, value in self._values.items()
                              if name in known],
                             (self.core.redis_url, self.core.broker_url))
