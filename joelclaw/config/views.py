"""The views: one typed, read-only object per concern.

`settings.telegram.token` reads JOELCLAW_TELEGRAM_TOKEN: the variables keep their flat names
(and `with_overrides` takes them), while code asks the view of its concern. Each view field
names the setting it shows; a test holds that every setting is in exactly one view, with its
type. (The guards' views, with behaviour of their own, live in `joelclaw.config.guards`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from joelclaw.config.base import shows
from joelclaw.config.guards import BreakerSettings, BudgetSettings

if TYPE_CHECKING:  # each view is a frozen dataclass with slots
    from dataclasses import dataclass as view
else:  # the same, its methods written once (joelclaw.config.base.view)
    from joelclaw.config.base import view

TOP_LEVEL = ("home", "timezone")  # settings of the whole system, in no view


@view(frozen=True, slots=True)
class RedisSettings:
    """Where run state lives and the broker Celery uses (the same Redis unless set apart)."""

    url: str | None = shows("redis_url")
    maxmemory: str = shows("redis_maxmemory")
    appendfsync: Literal["everysec", "always", "no"] = shows("redis_appendfsync")
    server: str | None = shows("redis_server")  # the embedded binary
    accept_eviction: bool = shows("redis_accept_eviction")
    wait_replicas: int = shows("redis_wait_replicas")
    wait_timeout_ms: int = shows("redis_wait_timeout_ms")
    tls_ca: str | None = shows("redis_tls_ca")
    tls_cert: str | None = shows("redis_tls_cert")
    tls_key: str | None = shows("redis_tls_key")
    broker_url: str | None = shows("broker_url")
    visibility_timeout: int = shows("visibility_timeout")
    unacked_restore_seconds: int | None = shows("unacked_restore_seconds")


@view(frozen=True, slots=True)
class WebSettings:
    """The web app: where it listens, who may call it, the dashboard's sessions."""

    api_token: str | None = shows("api_token")
    open_on_loopback: bool = shows("web_open_on_loopback")
    host: str = shows("web_host")
    port: int = shows("web_port")
    workers: int = shows("web_workers")
    body_timeout_seconds: float = shows("web_body_timeout_seconds")
    dashboard_session_hours: float = shows("dashboard_session_hours")
    public_url: str | None = shows("public_url")


@view(frozen=True, slots=True)
class FlowerSettings:
    """Celery's stock dashboard: where it listens, its credentials, its address for links."""

    address: str = shows("flower_address")
    port: int = shows("flower_port")
    user: str | None = shows("flower_user")
    password: str | None = shows("flower_password")
    url: str | None = shows("flower_url")


@view(frozen=True, slots=True)
class RunSettings:
    """How runs execute: leases, retries, retention, the scheduler's pace."""

    lease_seconds: float = shows("run_lease_seconds")
    outbox_grace_seconds: float = shows("outbox_grace_seconds")
    retention_days: float = shows("run_retention_days")
    event_log_cap: int = shows("event_log_cap")
    scheduler_poll_seconds: float = shows("scheduler_poll_seconds")
    default_retries: int = shows("default_retries")
    retry_base_seconds: float = shows("retry_base_seconds")
    retry_max_seconds: float = shows("retry_max_seconds")


@view(frozen=True, slots=True)
class WorkerSettings:
    """What workers load and run, and how a reload restarts them."""

    concurrency: int = shows("worker_concurrency")
    function_modules: list[str] = shows("function_modules")
    task_events: list[str] = shows("task_events")
    canvas_queue: str = shows("canvas_queue")
    supervised: bool = shows("supervised")
    reload_poll_seconds: float = shows("reload_poll_seconds")


@view(frozen=True, slots=True)
class TelegramSettings:
    """The bot: its token, the one user it serves, the API and the webhook's secret."""

    token: str | None = shows("telegram_token")
    owner_id: int | None = shows("telegram_owner_id")
    api_url: str = shows("telegram_api_url")
    webhook_secret: str | None = shows("telegram_webhook_secret")


@view(frozen=True, slots=True)
class GithubSettings:
    """GitHub's webhook secret."""

    webhook_secret: str | None = shows("github_webhook_secret")


@view(frozen=True, slots=True)
class TodoistSettings:
    """Todoist: the webhook's client secret and the API."""

    client_secret: str | None = shows("todoist_client_secret")
    token: str | None = shows("todoist_token")
    api_url: str = shows("todoist_api_url")


@view(frozen=True, slots=True)
class FrontSettings:
    """Front: the webhook secret and the API."""

    webhook_secret: str | None = shows("front_webhook_secret")
    token: str | None = shows("front_token")
    api_url: str = shows("front_api_url")


@view(frozen=True, slots=True)
class VercelSettings:
    """Vercel's webhook secret."""

    webhook_secret: str | None = shows("vercel_webhook_secret")


@view(frozen=True, slots=True)
class TypesenseSettings:
    """The search server (unset: the embedded one `joelclaw up` starts)."""

    url: str | None = shows("typesense_url")
    api_key: str | None = shows("typesense_api_key")
    timeout_seconds: float = shows("typesense_timeout_seconds")


@view(frozen=True, slots=True)
class LLMSettings:
    """The OpenAI-compatible chat endpoint, its fallback, prices and the daily budget."""

    api_url: str | None = shows("llm_api_url")
    api_key: str | None = shows("llm_api_key")
    model: str | None = shows("llm_model")
    fallback_model: str | None = shows("llm_fallback_model")
    fallback_after_failures: int = shows("llm_fallback_after_failures")
    probe_interval_seconds: float = shows("llm_probe_interval_seconds")
    vision: bool = shows("llm_vision")
    prices: dict[str, dict[str, float]] = shows("llm_prices")
    daily_budget_usd: float | None = shows("llm_daily_budget_usd")


@view(frozen=True, slots=True)
class GatewaySettings:
    """The owner's conversation: the agent command, turn limits, the chat's pacing."""

    agent_command: str | None = shows("agent_command")
    turn_timeout_seconds: float = shows("gateway_turn_timeout_seconds")
    history_chars: int = shows("gateway_history_chars")
    merge_window_seconds: float = shows("gateway_merge_window_seconds")
    claim_lease_seconds: float = shows("gateway_claim_lease_seconds")
    poll_timeout_seconds: int = shows("gateway_poll_timeout_seconds")
    chat_interval_seconds: float = shows("gateway_chat_interval_seconds")
    heartbeat_stale_seconds: float = shows("gateway_heartbeat_stale_seconds")
    heartbeat_grace_seconds: float = shows("gateway_heartbeat_grace_seconds")


@view(frozen=True, slots=True)
class EmbeddingsSettings:
    """The embeddings endpoint (unset: keyword-only search; `local`: the packaged model)."""

    api_url: str | None = shows("embeddings_api_url")
    api_key: str | None = shows("embeddings_api_key")
    model: str = shows("embeddings_model")
    timeout_seconds: float = shows("embeddings_timeout_seconds")


@view(frozen=True, slots=True)
class MemorySettings:
    """Memory: where MEMORY.md lives, the observer, reflection, review and recall."""

    dir: Path | None = shows("memory_dir")
    observer_model: str | None = shows("memory_observer_model")
    llm_timeout_seconds: float = shows("memory_llm_timeout_seconds")
    reflect_cron: str = shows("memory_reflect_cron")
    review_cron: str = shows("memory_review_cron")
    expire_cron: str = shows("memory_expire_cron")
    proposal_ttl_days: float = shows("memory_proposal_ttl_days")
    recall_limit: int = shows("memory_recall_limit")
    recall_cache_seconds: float = shows("memory_recall_cache_seconds")
    todoist_project_id: str | None = shows("memory_todoist_project_id")
    nudge_hours: float = shows("memory_nudge_hours")
    review_provider: str = shows("memory_review_provider")


@view(frozen=True, slots=True)
class CacheSettings:
    """The cache's tiers: how long entries live, where the file tier is."""

    dir: Path | None = shows("cache_dir")
    hot_ttl_seconds: float = shows("cache_hot_ttl_seconds")
    warm_ttl_seconds: float = shows("cache_warm_ttl_seconds")


@view(frozen=True, slots=True)
class DocsSettings:
    """The docs library: what may be read or fetched, and how it is chunked and paced."""

    dir: Path | None = shows("docs_dir")
    fetch_hosts: list[str] = shows("docs_fetch_hosts")
    fetch_timeout_seconds: float = shows("docs_fetch_timeout_seconds")
    max_bytes: int = shows("docs_max_bytes")
    chunk_chars: int = shows("docs_chunk_chars")
    chunk_overlap: int = shows("docs_chunk_overlap")
    ingest_concurrency: int = shows("docs_ingest_concurrency")
    backlog_batch_size: int = shows("docs_backlog_batch_size")
    backlog_pace_seconds: float = shows("docs_backlog_pace_seconds")


@view(frozen=True, slots=True)
class BackupSettings:
    """Backups of Redis and Typesense: where, how many, when, how."""

    dir: Path | None = shows("backup_dir")
    keep: int = shows("backup_keep")
    redis_cron: str = shows("backup_redis_cron")
    typesense_cron: str = shows("backup_typesense_cron")
    bgsave_timeout_seconds: float = shows("backup_bgsave_timeout_seconds")
    redis_mode: Literal['auto', 'copy', 'stream'] = shows("backup_redis_mode")
    redis_cli: str | None = shows("backup_redis_cli")


@view(frozen=True, slots=True)
class HealthSettings:
    """When health is degraded, how often it is said, and when a run counts as stuck."""

    notify_cooldown_minutes: float = shows("health_notify_cooldown_minutes")
    fatal_cooldown_minutes: float = shows("health_fatal_cooldown_minutes")
    confirm_seconds: float = shows("health_confirm_seconds")
    disk_min_free_percent: float = shows("health_disk_min_free_percent")
    error_rate_threshold: float = shows("health_error_rate_threshold")
    error_rate_min_runs: int = shows("health_error_rate_min_runs")
    error_rate_window_minutes: float = shows("health_error_rate_window_minutes")
    signals_cron: str = shows("health_signals_cron")
    stale_queued_minutes: float = shows("stale_queued_minutes")
    stale_running_minutes: float = shows("stale_running_minutes")
    stale_runs_cooldown_minutes: float = shows("stale_runs_cooldown_minutes")


@view(frozen=True, slots=True)
class CheckSettings:
    """The heartbeat's checks: sessions, triage, calendar, vault, digest."""

    sessions_prune_dirs: list[Path] = shows("sessions_prune_dirs")
    sessions_prune_glob: str = shows("sessions_prune_glob")
    sessions_prune_max_age_days: float = shows("sessions_prune_max_age_days")
    tasks_cache_seconds: float = shows("checks_tasks_cache_seconds")
    llm_timeout_seconds: float = shows("checks_llm_timeout_seconds")
    email_triage_hours: str = shows("email_triage_hours")
    email_triage_cooldown_hours: float = shows("email_triage_cooldown_hours")
    email_triage_front_query: str = shows("email_triage_front_query")
    email_triage_limit: int = shows("email_triage_limit")
    email_triage_archive: bool = shows("email_triage_archive")
    task_triage_cooldown_hours: float = shows("task_triage_cooldown_hours")
    task_triage_hash_hours: float = shows("task_triage_hash_hours")
    calendar_ics_url: str | None = shows("calendar_ics_url")
    calendar_command: str | None = shows("calendar_command")
    calendar_cooldown_hours: float = shows("calendar_cooldown_hours")
    vault_dir: Path | None = shows("vault_dir")
    vault_git_command: str = shows("vault_git_command")
    vault_push: bool = shows("vault_push")
    vault_notify_cooldown_hours: float = shows("vault_notify_cooldown_hours")
    triggers_audit_cooldown_hours: float = shows("triggers_audit_cooldown_hours")
    digest_window: str = shows("digest_window")
    digest_dir: Path | None = shows("digest_dir")
    command_timeout_seconds: float = shows("command_timeout_seconds")


@view(frozen=True, slots=True)
class AgentSettings:
    """Agents the system dispatches, and how long an approval request waits."""

    dispatch_command: str | None = shows("agent_dispatch_command")
    dispatch_timeout_seconds: float = shows("agent_dispatch_timeout_seconds")
    dispatch_max_timeout_seconds: float = shows("agent_dispatch_max_timeout_seconds")
    inbox_dir: Path | None = shows("agent_inbox_dir")
    approval_timeout_seconds: float = shows("approval_timeout_seconds")


@view(frozen=True, slots=True)
class MediaSettings:
    """Media: transcription, image understanding, size limit, the archive."""

    transcription_api_url: str | None = shows("transcription_api_url")
    transcription_api_key: str | None = shows("transcription_api_key")
    transcription_model: str = shows("transcription_model")
    transcription_timeout_seconds: float = shows("transcription_timeout_seconds")
    vision_model: str | None = shows("media_vision_model")
    max_bytes: int = shows("media_max_bytes")
    archive_dir: Path | None = shows("media_archive_dir")


@view(frozen=True, slots=True)
class TelemetrySettings:
    """OpenTelemetry spans and the telemetry events' batching."""

    endpoint: str | None = shows("otel_endpoint")
    service_name: str = shows("otel_service_name")
    sample_ratio: float = shows("otel_sample_ratio")
    flush_seconds: float = shows("otel_flush_seconds")
    pending_cap: int = shows("otel_pending_cap")


@view(frozen=True, slots=True)
class O11ySettings:
    """The o11y triage: when it runs, its model, dedup and escalations."""

    triage_cron: str = shows("o11y_triage_cron")
    model: str | None = shows("o11y_model")
    dedup_hours: float = shows("o11y_dedup_hours")
    escalations_per_hour: int = shows("o11y_escalations_per_hour")
    todoist_project_id: str | None = shows("o11y_todoist_project_id")
    agent_tool: str = shows("o11y_agent_tool")


@view(frozen=True, slots=True)
class DeadmanSettings:
    """The dead-man's switch: how long a silence is before the owner is told, how often it
    looks, and the health URL it may watch (another machine's)."""

    silence_seconds: float = shows("deadman_silence_seconds")
    interval_seconds: float = shows("deadman_interval_seconds")
    health_url: str | None = shows("deadman_health_url")


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


def setting_names() -> frozenset[str]:
    """Every setting's name, read from the views (no settings model is built)."""
    from dataclasses import fields

    return frozenset([*TOP_LEVEL, *(f.metadata["setting"] for view in VIEWS.values()
                                    for f in fields(view))])
