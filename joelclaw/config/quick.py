"""The CLI's quick read of the settings, concern by concern, without building `Settings`.

A CLI command reads a few concerns (`joelclaw runs`: Redis's URL, the home, the runs'
retention, Flower's address; `joelclaw functions`: also what the functions' crons read);
building the whole settings model (and importing pydantic-settings) would cost it a third of its
start. `QuickSettings` validates the core settings at once (`SystemFields`, `RedisFields`,
`RunFields`, `FlowerFields`) and any other concern (a view, or one of its settings) when first
read, each with its own fields mixin: the same declarations and validators `Settings` uses,
read from the same sources in the same order (the environment over `.env`, names in any case),
each value as its variable's text, as `Settings` reads it (it decodes none itself); a concern
given no value is its defaults, with no validation schema built. A bad value
is reported by `load_settings` itself, so its message is the one every other command gives: a
command that reads no concern holding a bad value answers. What is not a view or a setting (the
derived paths, `with_overrides`) is read from the whole `Settings`, built on first need. Tests
hold that both readers agree.
"""

from __future__ import annotations

import os
from dataclasses import fields
from functools import cache, cached_property
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import ConfigDict, ValidationError

from joelclaw.config.base import NO_REDIS, PREFIX, Fields, view_of
from joelclaw.config.core import RedisFields, RunFields, SystemFields
from joelclaw.config.views import VIEWS, setting_names
from joelclaw.config.web import FlowerFields
from joelclaw.errors import ConfigError

if TYPE_CHECKING:
    from joelclaw.config.settings import Settings

M = TypeVar("M", bound=Fields)
ENV_FILE = ".env"  # as `Settings` reads it: relative to the working directory
# How `Settings` validates (pydantic-settings' defaults and its own config); a test holds these
# to `Settings.model_config`. A concern's schema is built when a value of it is first validated.
CONFIG = ConfigDict(frozen=True, extra="ignore", validate_default=True,
                    arbitrary_types_allowed=True, defer_build=True)
# The fields mixin (module in joelclaw.config, class) that declares each view's settings; a test
# holds it to the bases of `Settings`.
DECLARED_BY = {
    "redis": ("core", "RedisFields"), "runs": ("core", "RunFields"),
    "web": ("web", "WebFields"), "flower": ("web", "FlowerFields"),
    "worker": ("workers", "WorkerFields"),
    "telegram": ("providers", "TelegramFields"), "github": ("providers", "GithubFields"),
    "todoist": ("providers", "TodoistFields"), "front": ("providers", "FrontFields"),
    "vercel": ("providers", "VercelFields"), "typesense": ("providers", "TypesenseFields"),
    "llm": ("providers", "LLMFields"), "embeddings": ("providers", "EmbeddingsFields"),
    "gateway": ("assistant", "GatewayFields"), "agents": ("assistant", "AgentFields"),
    "media": ("assistant", "MediaFields"),
    "memory": ("knowledge", "MemoryFields"), "cache": ("knowledge", "CacheFields"),
    "docs": ("knowledge", "DocsFields"),
    "backups": ("operations", "BackupFields"), "health": ("operations", "HealthFields"),
    "checks": ("operations", "CheckFields"), "deadman": ("operations", "DeadmanFields"),
    "telemetry": ("operations", "TelemetryFields"), "o11y": ("operations", "O11yFields"),
    "breakers": ("guards", "BreakerFields"), "budgets": ("guards", "BudgetFields"),
}


class CoreSettings(SystemFields, RedisFields, RunFields, FlowerFields):
    """The settings every read command uses, validated as `Settings` validates them."""

    model_config = CONFIG


CORE = (SystemFields, RedisFields, RunFields, FlowerFields)


def mixin_of(view: str) -> type[Fields]:
    """The fields mixin declaring the settings of the view `view`."""
    module, name = DECLARED_BY[view]
    mixin: type[Fields] = getattr(import_module(f"joelclaw.config.{module}"), name)
    return mixin


@cache
def view_of_setting() -> dict[str, str]:
    """Each setting (but the top-level ones, which are core) by name: the view showing it."""
    return {f.metadata["setting"]: view for view, cls in VIEWS.items() for f in fields(cls)}


@cache
def concern_model(mixin: type[Fields]) -> type[Fields]:
    """A settings model of one concern's fields alone, validating as `Settings` does."""
    return type(f"Quick{mixin.__name__}", (mixin,),
                {"__module__": __name__, "model_config": CONFIG})


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
    """`Settings` as a CLI command sees it: the core settings read at once, any other concern
    when first read (and validated then), anything else from the whole `Settings`."""

    def __init__(self, env_file: str | None = ENV_FILE, *, read: bool = True) -> None:
        """`read=False`: the defaults alone, nothing read from the environment or a file (what
        `Settings.model_construct()` holds)."""
        if read:
            from joelclaw.config.loading import warn_unknown_variables

            warn_unknown_variables(setting_names())
        self._env_file = env_file
        self._read = read
        self._values = sources(env_file) if read else {}
        self._concerns: dict[type[Fields], Fields] = {}
        self.core = self._validated(CoreSettings)

    @classmethod
    def defaults(cls) -> QuickSettings:
        """The settings' defaults, with nothing read from the environment or a file."""
        return cls(read=False)

    def _validated(self, model: type[M]) -> M:
        given = {name: value for name, value in self._values.items()
                 if name in model.model_fields}
        if not given:  # its defaults, which validate to themselves (a test holds it)
            return cast("M", model.model_construct())  # (the plugin types it as Fields)
        try:
            return model.model_validate(given)
        except ValidationError:  # load_settings raises, naming the variable as it always does
            full = self._full()
            return model.model_validate({name: getattr(full, name)
                                         for name in model.model_fields})

    def _concern(self, mixin: type[Fields]) -> Fields:
        if mixin in CORE:
            return self.core
        found = self._concerns.get(mixin)
        if found is None:
            found = self._concerns[mixin] = self._validated(concern_model(mixin))
        return found

    def _full(self) -> Settings:
        full: Settings | None = self.__dict__.get("_settings")
        if full is None and not self._read:
            from joelclaw.config.settings import Settings

            full = self.__dict__["_settings"] = Settings.model_construct()
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
        if name in VIEWS:
            view: Any = view_of(self._concern(mixin_of(name)), VIEWS[name])
            self.__dict__[name] = view  # read once, as `Settings` caches its views
            return view
        view_name = view_of_setting().get(name)
        if view_name is not None:
            return getattr(self._concern(mixin_of(view_name)), name)
        return getattr(self._full(), name)

    @cached_property
    def home_dir(self) -> Path:
        return self.core.home.expanduser().resolve()

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
