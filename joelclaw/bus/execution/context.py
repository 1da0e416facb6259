"""What a function receives: the triggering event (typed by its payload model), the durable
`step` API, its run, and the services extensions registered (`ctx.gateway`, ...).

The bus names no extension: a service is a factory in `runtime.services` (e.g. the gateway
installs `gateway`), built once per execution on first use of `ctx.<name>`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.execution.steps import Step
    from joelclaw.bus.ports import Bus

P = TypeVar("P")


@dataclass
class Context(Generic[P]):
    """`Context[Model]` tells an editor the type of `ctx.event.data`."""

    event: Event[P]
    step: Step
    run_id: str
    attempt: int
    function_id: str
    runtime: Bus
    log: logging.Logger
    batch: list[Event[P]] | None = None
    _services: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def events(self) -> list[Event[P]]:
        """The batch of a batched function (oldest first); otherwise just the event."""
        return self.batch if self.batch is not None else [self.event]

    def __getattr__(self, name: str) -> Any:
        """`ctx.<service>`: the service an extension registered under that name."""
        if name.startswith("_"):
            raise AttributeError(name)
        built = self._services.get(name)
        if built is not None:
            return built
        factory = self.runtime.services.get(name)
        if factory is None:
            known = ", ".join(sorted(self.runtime.services)) or "none"
            raise AttributeError(f"a function context has no {name!r} (services: {known})")
        built = self._services[name] = factory(self)
        return built
