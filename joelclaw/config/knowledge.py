"""What the system knows and keeps: memory (MEMORY.md, the observer, reflection, review,
recall), the cache's tiers and the docs library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from joelclaw.config.base import Fields, split_list, valid_cron


class MemoryFields(Fields):
    """Memory (`MemorySettings`)."""

    # Where the dashboard's memory review queue comes from (module:factory; absent module =
    # "memory not available").
    memory_review_provider: str = "joelclaw.memory.review:review_queue"
    memory_dir: Path | None = None  # MEMORY.md and the daily logs; default <home>/workspace
    memory_observer_model: str | None = None  # default: JOELCLAW_LLM_MODEL
    memory_llm_timeout_seconds: float = Field(30.0, gt=0)
    memory_reflect_cron: str = "0 6 * * *"
    memory_review_cron: str = "*/30 * * * *"
    memory_expire_cron: str = "0 8 * * *"
    memory_proposal_ttl_days: float = Field(7.0, gt=0)
    memory_recall_limit: int = Field(10, ge=1, le=100)
    memory_recall_cache_seconds: float = Field(300.0, ge=0)
    memory_todoist_project_id: str | None = None  # where review tasks go; default the inbox
    memory_nudge_hours: float = Field(24.0, gt=0)

    @field_validator("memory_reflect_cron", "memory_review_cron", "memory_expire_cron")
    @classmethod
    def _memory_cron(cls, value: str, info: ValidationInfo) -> str:
        return valid_cron(cls, value, info)


class CacheFields(Fields):
    """The cache's tiers (`CacheSettings`)."""

    cache_dir: Path | None = None  # the warm file tier; default <home>/cache
    cache_hot_ttl_seconds: float = Field(300.0, ge=0)
    cache_warm_ttl_seconds: float = Field(3600.0, ge=0)


class DocsFields(Fields):
    """The docs library (`DocsSettings`)."""

    # docs-ingest reads documents under docs_dir (unset: a path is skipped, saying why) and
    # fetches URLs only from the hosts (host or host:port) in docs_fetch_hosts (empty: none).
    docs_dir: Path | None = None
    docs_fetch_hosts: list[str] = Field(default_factory=list)
    docs_fetch_timeout_seconds: float = Field(20.0, gt=0)
    docs_max_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    docs_chunk_chars: int = Field(1200, ge=200, le=20000)
    docs_chunk_overlap: int = Field(150, ge=0, le=5000)
    docs_ingest_concurrency: int = Field(1, ge=1, le=64)
    docs_backlog_batch_size: int = Field(10, ge=1, le=1000)  # events per batch ...
    docs_backlog_pace_seconds: float = Field(30.0, ge=0)  # ... and the durable sleep between

    @field_validator("docs_fetch_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: Any) -> Any:
        return split_list(value)
