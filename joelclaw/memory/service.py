"""Everything memory works with, built lazily from one bus: the observation store, the
proposals, MEMORY.md, the daily log, the LLM and Todoist clients and the cache. The memory
extension (joelclaw.memory.plugin) keeps one per runtime: functions get it as `ctx.memory`."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from joelclaw.cache import Cache, cache_for
from joelclaw.errors import ConfigError
from joelclaw.integrations.embeddings import make_embedder
from joelclaw.integrations.llm import LLMClient
from joelclaw.integrations.todoist import TodoistClient
from joelclaw.integrations.typesense import SearchClient
from joelclaw.memory.dailylog import DailyLog
from joelclaw.memory.memoryfile import MemoryFile
from joelclaw.memory.proposals import ProposalStore
from joelclaw.memory.store import ObservationStore
from joelclaw.telemetry import spend

if TYPE_CHECKING:
    import redis

    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings

NO_LLM = ("memory needs an LLM: set JOELCLAW_LLM_API_URL and JOELCLAW_LLM_MODEL (any "
          "OpenAI-compatible endpoint)")


class Memory:
    def __init__(self, bus: Bus) -> None:
        self.rt = bus

    @property
    def settings(self) -> Settings:
        return self.rt.settings

    @property
    def redis(self) -> redis.Redis:
        return self.rt.redis

    @cached_property
    def store(self) -> ObservationStore:
        return ObservationStore(SearchClient.from_settings(self.settings),
                                make_embedder(self.settings))

    @cached_property
    def proposals(self) -> ProposalStore:
        return ProposalStore(self.redis)

    @cached_property
    def memory_file(self) -> MemoryFile:
        return MemoryFile(self.settings.memory_file)

    @cached_property
    def daily(self) -> DailyLog:
        return DailyLog(self.settings.memory_home / "memory")

    @cached_property
    def cache(self) -> Cache:
        return cache_for(self.rt)

    def llm(self, timeout: float | None = None, *, purpose: str = "memory work") -> LLMClient:
        """The memory LLM. Memory's LLM work is background work: past the daily LLM budget
        this raises Defer until the next day (joelclaw.telemetry.spend)."""
        s = self.settings
        if not s.llm.api_url or not (s.memory.observer_model or s.llm.model):
            raise ConfigError(NO_LLM)
        spend.allow_background(self.rt, purpose)
        return LLMClient(s.llm.api_url, s.llm.api_key, s.memory.observer_model or s.llm.model or "",
                         timeout=timeout or s.memory.llm_timeout_seconds, max_attempts=2)

    def todoist(self) -> TodoistClient | None:
        s = self.settings
        if not s.todoist.token:
            return None
        return TodoistClient(s.todoist.token, s.todoist.api_url, redis_client=self.redis)
