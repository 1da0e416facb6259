"""What a function receives: the triggering event (typed by its payload model), the durable
`step` API, its run, its settings, and services instead of the engine: `ctx.cooldown`,
`ctx.lock(...)`, `ctx.cache` here, and those extensions registered (`ctx.gateway`,
`ctx.memory`, ...).

The bus names no extension: a service is a factory in `runtime.services` (e.g. the gateway
installs `gateway`), built once per execution on first use of `ctx.<name>`. The engine behind a
context is not on it: `engine(ctx)` hands it to extensions building their services and to tests;
a function needs the services, never the engine (nor its Redis).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from joelclaw.bus.execution.services import Cooldowns, named_lock
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.execution.steps import Step
    from joelclaw.bus.ports import Bus
    from joelclaw.cache import Cache
    from joelclaw.config import Settings
    from joelclaw.coordination.locks import Lock

P = TypeVar("P")


@dataclass
class Context(Generic[P]):
    """`Context[Model]` tells an editor the type of `ctx.event.data`."""

    event: Event[P]
    step: Step
    run_id: str
    attempt: int
    function_id: str
    log: logging.Logger
    batch: list[Event[P]] | None = None
    _runtime: Bus = field(kw_only=True, repr=False)
    _services: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def events(self) -> list[Event[P]]:
        """The batch of a batched function (oldest first); otherwise just the event."""
        return self.batch if self.batch is not None else [self.event]

    @property
    def settings(self) -> Settings:
        """The process's typed settings (`JOELCLAW_*`)."""
        return self._runtime.settings

    @property
    def cooldown(self) -> Cooldowns:
        """Act at most once per period, by name: `ctx.cooldown.claim("vault", 3600)`."""
        return Cooldowns(self._runtime.redis)

    def lock(self, name: str, lease: float = 30.0, *, token: str | None = None) -> Lock:
        """The Redis lock called `name` (owner token, renewable lease, released only by its
        owner); `token=ctx.run_id` makes it re-entrant for this run's retries."""
        return named_lock(self._runtime.redis, name, lease, token)

    @property
    def cache(self) -> Cache:
        """The tiered cache (`get`, `set`, `invalidate`, `cached(...)`), hot + Redis + files."""
        from joelclaw.cache import cache_for

        return cache_for(self._runtime)

    def cancel_requested(self) -> bool:
        """True once someone asked to cancel this run (long work inside a step can stop)."""
        run = self._runtime.runs.get(self.run_id)
        return bool(run is not None and run.cancel_requested)

    def __getattr__(self, name: str) -> Any:
        """`ctx.<service>`: the service an extension registered under that name."""
        if name.startswith("_"):
            raise AttributeError(name)
        built = self._services.get(name)
        if built is not None:
            return built
        factory = self._runtime.services.get(name)
        if factory is None:
            known = ", ".join(sorted(self._runtime.services)) or "none"
            raise AttributeError(f"a function context has no {name!r} (services: {known})")
        built = self._services[name] = factory(self)
        return built


def engine(ctx: Context[Any]) -> Bus:
    """The runtime behind a context: for extensions building the services they offer and for
    tests. A function asks its context for services instead."""
    return ctx._runtime
