"""The runtime: settings, Redis, the function registry and the Celery app, built once and passed
explicitly to whatever needs them (the CLI, the web app, workers, beat, tests).
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis

from joelclaw.bus.functions import Function, Registry
from joelclaw.bus.runs import RunStore
from joelclaw.bus.scripts import Scripts
from joelclaw.config import Settings, load_settings
from joelclaw.errors import ConfigError

if TYPE_CHECKING:
    from celery import Celery

    from joelclaw.events.model import Event
    from joelclaw.events.store import SendResult


class Runtime:
    """Lazily connects: building one costs nothing until Redis or Celery is first used."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: Registry | None = None,
    ):
        self.settings = settings or load_settings()
        self._registry = registry

    @cached_property
    def registry(self) -> Registry:
        return self._registry or Registry.from_modules(self.settings.all_function_modules)

    @cached_property
    def redis_url(self) -> str:
        return resolve_redis_url(self.settings)

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(
            self.redis_url, socket_connect_timeout=3, socket_timeout=15,
            health_check_interval=30,
        )

    @cached_property
    def scripts(self) -> Scripts:
        return Scripts(self.redis)

    @cached_property
    def runs(self) -> RunStore:
        return RunStore(self.redis, self.settings.run_retention_days * 86400)

    @cached_property
    def celery(self) -> Celery:
        from joelclaw.celery_app import make_celery

        return make_celery(self)

    def function(self, function_id: str) -> Function | None:
        return self.registry.get(function_id)

    def send(self, events: Event | list[Event], **kwargs: Any) -> list[SendResult]:
        from joelclaw.events.store import send_events

        return send_events(self, events if isinstance(events, list) else [events], **kwargs)

    def publish(self, target: str, *, ready_at: float | None = None) -> bool:
        from joelclaw.bus.scheduler import publish

        return publish(self, target, ready_at=ready_at)

    def wake(self, target: str, at: float) -> None:
        from joelclaw.bus.scheduler import wake

        wake(self, target, at)

    def ping(self) -> float:
        """Round-trip time to Redis in ms; raises ConfigError with a fix when unreachable."""
        import time

        start = time.perf_counter()
        try:
            self.redis.ping()
        except redis.exceptions.ConnectionError as exc:
            raise ConfigError(
                f"cannot reach Redis at {redact_url(self.redis_url)}: {exc}. Is `joelclaw up` "
                "running, or JOELCLAW_REDIS_URL pointing at a live server?"
            ) from None
        return (time.perf_counter() - start) * 1000


def resolve_redis_url(settings: Settings) -> str:
    """JOELCLAW_REDIS_URL, else the embedded Redis a running `joelclaw up` recorded."""
    if settings.redis_url:
        return settings.redis_url
    recorded = settings.home_dir / "redis" / "url"
    if recorded.exists():
        return recorded.read_text().strip()
    return settings.require_redis_url()


def redact_url(url: str) -> str:
    """Hide a password in a URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
