"""The runtime: wiring only. It builds settings, Redis, the run store, the function registry and
the Celery app once, installs the extensions (the gateway, memory, telemetry), and implements
the bus's port
(`joelclaw.bus.ports.Bus`) by delegating to the bus modules. The CLI, the web app, workers,
beat and tests each build one and pass it explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from joelclaw.bus.ports import Hooks, SendResult, ServiceFactory
from joelclaw.config.loading import load_settings, resolve_redis_url
from joelclaw.errors import ConfigError

if TYPE_CHECKING:
    import redis
    from celery import Celery

    from joelclaw.application import Application
    from joelclaw.bus.celery import CelerySetup
    from joelclaw.bus.functions import Function, Registry
    from joelclaw.bus.records import CodeWatch, RunStore, Scripts
    from joelclaw.config import Settings
    from joelclaw.events.model import Event

Extension = Callable[["Runtime"], "CelerySetup | None"]


def default_extensions() -> tuple[Extension, ...]:
    """The gateway, memory, telemetry, the checks, the agents, the provider breakers, the
    effect budgets and the cassette recorder: imported when first needed, not with the runtime."""
    from joelclaw.agents import plugin as agents
    from joelclaw.cassettes import recorder as cassettes
    from joelclaw.checks import plugin as checks
    from joelclaw.coordination import breakers, budgets
    from joelclaw.gateway import plugin as gateway
    from joelclaw.memory import plugin as memory
    from joelclaw.telemetry import plugin as telemetry

    return (gateway.install, memory.install, telemetry.install, checks.install, agents.install,
            breakers.install, budgets.install, cassettes.install)


class Runtime:
    """Lazily connects: building one costs nothing until Redis or Celery is first used, and
    imports nothing heavy until it is needed (the CLI's read commands answer at once).

    The extensions install themselves the first time the runtime's services, hooks or Celery
    app are asked for (a function's context, a worker, a gateway command)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        registry: Registry | None = None,
        application: Application | None = None,
        extensions: Iterable[Extension] | None = None,
        quick_redis: bool = False,
    ):
        """`quick_redis`: read a plain redis:// or unix:// Redis with the small client
        (joelclaw.redisconn.resp) instead of importing redis-py, which then serves only what
        that one does not speak (the CLI's read commands)."""
        self.settings = settings or load_settings()
        self._quick_redis = quick_redis
        self._application = application
        self._registry = registry
        self._extensions = tuple(extensions) if extensions is not None else None
        self._services: dict[str, ServiceFactory] = {}
        self._hooks = Hooks()
        self._setup: list[CelerySetup] | None = None

    def _install_extensions(self) -> list[CelerySetup]:
        if self._setup is None:
            self._setup = []  # set first: an extension installing reads services and hooks
            for install in (self._extensions if self._extensions is not None
                            else default_extensions()):
                hook = install(self)
                if hook is not None:
                    self._setup.append(hook)
        return self._setup

    @property
    def services(self) -> dict[str, ServiceFactory]:
        self._install_extensions()
        return self._services

    @property
    def hooks(self) -> Hooks:
        self._install_extensions()
        return self._hooks

    @cached_property
    def application(self) -> Application:
        from joelclaw.application import installed

        modules = self.settings.worker.function_modules
        return (self._application or installed()).with_modules(modules)

    @cached_property
    def registry(self) -> Registry:
        from joelclaw.bus.functions import Registry

        return self._registry or Registry.from_modules(self.application.function_modules,
                                                       self.settings)

    @cached_property
    def redis_url(self) -> str:
        return resolve_redis_url(self.settings)

    def _redis_py(self) -> redis.Redis:
        from joelclaw import redisconn

        return redisconn.connect(
            self.redis_url, self.settings, socket_connect_timeout=3, socket_timeout=15,
            health_check_interval=30,
        )

    @cached_property
    def redis(self) -> redis.Redis:
        if self._quick_redis:
            from joelclaw.redisconn import resp

            quick = resp.connect(self.redis_url, self._redis_py, socket_connect_timeout=3,
                                 socket_timeout=15)
            if quick is not None:
                return quick  # redis-py's interface, for the commands it speaks
        return self._redis_py()

    @cached_property
    def scripts(self) -> Scripts:
        from joelclaw.bus.records import Scripts

        return Scripts(self.redis)

    @cached_property
    def runs(self) -> RunStore:
        """The run store (its models are imported with it: a command that reads no run, such
        as `gateway diagnose`, loads none)."""
        from joelclaw.bus.records import RunStore

        return RunStore(self.redis, self.scripts, self.settings.runs.retention_days * 86400,
                        self.settings.runs.outbox_grace_seconds)

    @cached_property
    def broker_url(self) -> str:
        """JOELCLAW_BROKER_URL, else the Redis that holds run state: the one place that says so."""
        return self.settings.redis.broker_url or self.redis_url

    @cached_property
    def celery(self) -> Celery:
        from joelclaw.bus.celery import make_celery

        setup = self._install_extensions()
        return make_celery(self, self.broker_url,
                           beat_entries=self.application.extra_beat_entries(self), setup=setup)

    @cached_property
    def code(self) -> CodeWatch:
        """The code version of the function modules this process imported (computed once,
        right after importing them) and the reload generation it watches."""
        from joelclaw.bus.records import CodeWatch

        return CodeWatch(lambda: self.redis, self._code_version)

    def _code_version(self) -> str:
        from joelclaw.application import codeversion

        _ = self.registry  # the modules are imported first: the version is of what runs
        return codeversion.version_of(self.application.function_modules)

    def function(self, function_id: str) -> Function | None:
        return self.registry.get(function_id)

    def function_missing(self, target: str, function_id: str) -> bool:
        from joelclaw.bus.control import removed

        return removed.settle_unknown(self, target, function_id)

    def send(self, events: Event | list[Event], **kwargs: Any) -> list[SendResult]:
        from joelclaw.bus.intake import send_events

        sent = send_events(self, events if isinstance(events, list) else [events], **kwargs)
        if self.settings.redis.wait_replicas:  # acknowledged only once replicated
            from joelclaw import redisconn

            redisconn.wait_replicas(self.redis, self.settings.redis.wait_replicas,
                                    self.settings.redis.wait_timeout_ms)
        return sent

    def publish(self, target: str, *, ready_at: float | None = None) -> bool:
        from joelclaw.bus.delivery import publish_target

        return publish_target(self, target, ready_at=ready_at)

    def wake(self, target: str, at: float) -> None:
        from joelclaw.bus.delivery import wake

        wake(self, target, at)

    def ping(self) -> float:
        """Round-trip time to Redis in ms; raises ConfigError with a fix when unreachable."""
        start = time.perf_counter()
        try:
            self.redis.ping()
        except Exception as exc:
            if not _unreachable(exc):
                raise
            raise ConfigError(
                f"cannot reach Redis at {redact_url(self.redis_url)}: {exc}. Is `joelclaw up` "
                "running, or JOELCLAW_REDIS_URL pointing at a live server?"
            ) from None
        return (time.perf_counter() - start) * 1000


def _unreachable(exc: BaseException) -> bool:
    """A connection error of redis-py (when it is loaded) or of the quick client."""
    import sys

    loaded = sys.modules.get("redis.exceptions")
    return isinstance(exc, ConnectionError) or (
        loaded is not None and isinstance(exc, loaded.ConnectionError))


def redact_url(url: str) -> str:
    """Hide a password in a URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
