"""What bus code may ask of the system it runs in, as a Protocol.

Bus modules take a `Bus` and call `bus.send(...)`, `bus.publish(...)`: they never import the
runtime that implements it (`joelclaw.runtime.Runtime`), which is what keeps the import graph
one-way: the runtime wires the bus, the bus knows only this interface. Services that extensions
(the gateway, memory) add for functions live in `services`, offered to functions as
`ctx.<name>` (see `joelclaw.bus.execution.context`); `hooks` are what extensions offer each other,
each under a typed `HookKey` declared here (the neutral ground both sides import), so the one
that calls a hook and the one that offers it agree on its signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

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
ServiceFactory = Callable[[Any], object]
H = TypeVar("H")


@dataclass(frozen=True)
class HookKey(Generic[H]):
    """A hook's name, typed with the hook's signature: `hooks.get(RECALL)` is a RecallHook."""

    name: str


class Hooks:
    """What extensions offer each other, by typed key; a hook nobody offered is absent."""

    def __init__(self) -> None:
        self._hooks: dict[str, object] = {}

    def __setitem__(self, key: HookKey[H], hook: H) -> None:
        self._hooks[key.name] = hook

    def get(self, key: HookKey[H]) -> H | None:
        return self._hooks.get(key.name)  # type: ignore[return-value]  # set only via its key

    @overload
    def __getitem__(self, key: HookKey[H]) -> H: ...

    @overload
    def __getitem__(self, key: str) -> object: ...

    def __getitem__(self, key: HookKey[H] | str) -> object:
        return self._hooks[key if isinstance(key, str) else key.name]

    def __contains__(self, key: object) -> bool:
        name = key.name if isinstance(key, HookKey) else key
        return name in self._hooks


# (bus, prompt) -> the memory lines for an agent turn's prompt ("" when nothing is relevant).
RecallHook = Callable[["Bus", str], str]
# (bus, query) -> a block of matching memories, or None when there is no memory to search.
SearchHook = Callable[["Bus", str], "str | None"]
RECALL: HookKey[RecallHook] = HookKey("recall")
SEARCH: HookKey[SearchHook] = HookKey("search")


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

    @property
    def services(self) -> dict[str, ServiceFactory]: ...

    @property
    def hooks(self) -> Hooks: ...

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
