"""`Settings`: every setting, read from `JOELCLAW_*` variables (and `.env`), with the views
code reads them through and the paths derived from them.

The fields are declared by concern in the mixins `Settings` inherits (joelclaw/config/core.py,
web.py, workers.py, providers.py, assistant.py, knowledge.py, operations.py, guards.py); the
variables keep their flat names (JOELCLAW_<FIELD>).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from joelclaw.config.assistant import AgentFields, GatewayFields, MediaFields
from joelclaw.config.base import NO_REDIS, PREFIX, view_of
from joelclaw.config.core import RedisFields, RunFields, SystemFields
from joelclaw.config.guards import BreakerFields, BreakerSettings, BudgetFields, BudgetSettings
from joelclaw.config.knowledge import CacheFields, DocsFields, MemoryFields
from joelclaw.config.operations import (
    BackupFields,
    CheckFields,
    DeadmanFields,
    HealthFields,
    O11yFields,
    TelemetryFields,
)
from joelclaw.config.providers import (
    EmbeddingsFields,
    FrontFields,
    GithubFields,
    LLMFields,
    TelegramFields,
    TodoistFields,
    TypesenseFields,
    VercelFields,
)
from joelclaw.config.views import (
    AgentSettings,
    BackupSettings,
    CacheSettings,
    CheckSettings,
    DeadmanSettings,
    DocsSettings,
    EmbeddingsSettings,
    FlowerSettings,
    FrontSettings,
    GatewaySettings,
    GithubSettings,
    HealthSettings,
    LLMSettings,
    MediaSettings,
    MemorySettings,
    O11ySettings,
    RedisSettings,
    RunSettings,
    TelegramSettings,
    TelemetrySettings,
    TodoistSettings,
    TypesenseSettings,
    VercelSettings,
    WebSettings,
    WorkerSettings,
)
from joelclaw.config.web import FlowerFields, WebFields
from joelclaw.config.workers import WorkerFields
from joelclaw.errors import ConfigError


class Settings(
    SystemFields, RedisFields, WebFields, FlowerFields, RunFields, WorkerFields, TelegramFields,
    GithubFields, TodoistFields, FrontFields, VercelFields, TypesenseFields, LLMFields,
    GatewayFields, EmbeddingsFields, MemoryFields, CacheFields, DocsFields, BackupFields,
    HealthFields, CheckFields, AgentFields, MediaFields, TelemetryFields, O11yFields,
    DeadmanFields, BreakerFields, BudgetFields, BaseSettings,
):
    """Everything configurable. Defaults give a working single-machine system."""

    # `enable_decoding=False`: every value reaches validation as its variable's text (each
    # list or JSON field decodes its own, see joelclaw.config.base), so a concern validated
    # alone (joelclaw.config.quick) reads what `Settings` reads.
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", extra="ignore", frozen=True, defer_build=False,
        enable_decoding=False,
    )

    @property
    def memory_home(self) -> Path:
        return (self.memory_dir or self.home_dir / "workspace").expanduser()

    @property
    def memory_file(self) -> Path:
        return self.memory_home / "MEMORY.md"

    @property
    def cache_home(self) -> Path:
        return (self.cache_dir or self.home_dir / "cache").expanduser()

    @property
    def agent_inbox(self) -> Path:
        return (self.agent_inbox_dir or self.home_dir / "workspace" / "inbox").expanduser()

    @property
    def media_archive(self) -> Path:
        return (self.media_archive_dir or self.home_dir / "media" / "archive").expanduser()

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @cached_property
    def redis(self) -> RedisSettings:
        return view_of(self, RedisSettings)

    @cached_property
    def web(self) -> WebSettings:
        return view_of(self, WebSettings)

    @cached_property
    def flower(self) -> FlowerSettings:
        return view_of(self, FlowerSettings)

    @cached_property
    def runs(self) -> RunSettings:
        return view_of(self, RunSettings)

    @cached_property
    def worker(self) -> WorkerSettings:
        return view_of(self, WorkerSettings)

    @cached_property
    def telegram(self) -> TelegramSettings:
        return view_of(self, TelegramSettings)

    @cached_property
    def github(self) -> GithubSettings:
        return view_of(self, GithubSettings)

    @cached_property
    def todoist(self) -> TodoistSettings:
        return view_of(self, TodoistSettings)

    @cached_property
    def front(self) -> FrontSettings:
        return view_of(self, FrontSettings)

    @cached_property
    def vercel(self) -> VercelSettings:
        return view_of(self, VercelSettings)

    @cached_property
    def typesense(self) -> TypesenseSettings:
        return view_of(self, TypesenseSettings)

    @cached_property
    def llm(self) -> LLMSettings:
        return view_of(self, LLMSettings)

    @cached_property
    def gateway(self) -> GatewaySettings:
        return view_of(self, GatewaySettings)

    @cached_property
    def embeddings(self) -> EmbeddingsSettings:
        return view_of(self, EmbeddingsSettings)

    @cached_property
    def memory(self) -> MemorySettings:
        return view_of(self, MemorySettings)

    @cached_property
    def cache(self) -> CacheSettings:
        return view_of(self, CacheSettings)

    @cached_property
    def docs(self) -> DocsSettings:
        return view_of(self, DocsSettings)

    @cached_property
    def backups(self) -> BackupSettings:
        return view_of(self, BackupSettings)

    @cached_property
    def health(self) -> HealthSettings:
        return view_of(self, HealthSettings)

    @cached_property
    def checks(self) -> CheckSettings:
        return view_of(self, CheckSettings)

    @cached_property
    def agents(self) -> AgentSettings:
        return view_of(self, AgentSettings)

    @cached_property
    def media(self) -> MediaSettings:
        return view_of(self, MediaSettings)

    @cached_property
    def telemetry(self) -> TelemetrySettings:
        return view_of(self, TelemetrySettings)

    @cached_property
    def o11y(self) -> O11ySettings:
        return view_of(self, O11ySettings)

    @cached_property
    def deadman(self) -> DeadmanSettings:
        return view_of(self, DeadmanSettings)

    @cached_property
    def breakers(self) -> BreakerSettings:
        return view_of(self, BreakerSettings)

    @cached_property
    def budgets(self) -> BudgetSettings:
        return view_of(self, BudgetSettings)

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(NO_REDIS)
        return self.redis_url

    def with_overrides(self, **changes: Any) -> Settings:
        copy = self.model_copy(update=changes)
        for name in _CACHED:  # computed from the old values: computed again on first use
            copy.__dict__.pop(name, None)
        return copy


_CACHED = tuple(name for name, value in vars(Settings).items()
                if isinstance(value, cached_property))
