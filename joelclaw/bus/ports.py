"""What bus code may ask of the system it runs in, as a Protocol.

Bus modules take a `Bus` and call `bus.send(...)`, `bus.publish(...)`: they never import the
runtime that implements it (`joelclaw.runtime.Runtime`), which is what keeps the import graph
one-way: the runtime wires the bus, the bus knows only this interface. Services that extensions
(the gateway, memory) add for functions live in `services`, offered to functions as
`ctx.<name>` (see `joelclaw.bus.execution.context`); `hooks` are what extensions offer each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis
    from celery import Celery

    from joelclaw.bus.functions.registry import Function, Registry
    from joelclaw.bus.records.codestate import CodeWatch
    from joelclaw.bus.records.run_store import RunStore
    from joelclaw.bus.records.scripts import Scripts
    from joelclaw.config import Settings
    from joelclaw.events.model import Event

# A service factory: given a function's context, the object `ctx.<name>` returns.
ServiceFactory = Callable[[Any], Any]
# A hook one extension offers others by name, e.g. "recall": (bus, prompt) -> memory text.
Hook = Callable[..., Any]


@dataclass
class SendResult:
    """What sending one event did: dispatched (with the runs it started and the waiting runs
    it resumed) or deduplicated."""

    id: str
    name: str
    status: str  # dispatched | deduplicated
    runs: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)  # runs whose wait_for_event it matched

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Bus(Protocol):
    settings: Settings
    services: dict[str, ServiceFactory]
    hooks: dict[str, Hook]

    @property
    def redis(self) -> redis.Redis: ...

    @property
    def redis_url(self) -> str: ...

    @property
    def broker_url(self) -> str: ...

    def ping(self) -> float:
        """Round-trip time to Redis in ms; ConfigError with a fix when it is unreachable."""
        ...

    @property
    def scripts(self) -> Scripts: ...

    @property
    def runs(self) -> RunStore: ...

    @property
    def registry(self) -> Registry: ...

    @property
    def celery(self) -> Celery: ...

    def function(self, function_id: str) -> Function | None: ...

    @property
    def code(self) -> CodeWatch:
        """This process's code version and whether a reload asked it to restart."""
        ...

    def function_missing(self, target: str, function_id: str) -> bool:
        """A run (or member) of a function this process does not know: True if it was handled
        (failed because a reload removed its function, or left to up-to-date processes)."""
        ...

    def send(self, events: Event | list[Event], **kwargs: Any) -> list[SendResult]: ...

    def publish(self, target: str, *, ready_at: float | None = None) -> bool: ...

    def wake(self, target: str, at: float) -> None: ...
