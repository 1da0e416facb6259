"""How memory plugs into the system, without the bus or the gateway knowing it.

`install(runtime)` keeps one `Memory` for the runtime (built lazily: nothing connects until it is
used) and offers it to functions as `ctx.memory`, and to the gateway through two hooks: "recall"
(the agent turn's memory block) and "search" (the memory half of /search). Memory adds no Celery
tasks of its own: its functions are the `tasks.memory` module.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from joelclaw.memory import recall
from joelclaw.memory.service import Memory

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

SERVICE = "memory"
RECALL_HOOK = "recall"  # (bus, prompt) -> the memory lines for an agent turn's prompt
SEARCH_HOOK = "search"  # (bus, query) -> a block of matching memories, or None without memory


class _Shared:
    """The runtime's one Memory: its Typesense client, embedder and cache are reused."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._memory: Memory | None = None
        self._lock = threading.Lock()

    def __call__(self, *_: Any) -> Memory:
        with self._lock:
            if self._memory is None:
                self._memory = Memory(self.bus)
            return self._memory


def install(bus: Bus) -> None:
    """Offer `ctx.memory` and the recall/search hooks; no Celery setup is needed."""
    shared = _Shared(bus)
    bus.services[SERVICE] = shared
    bus.hooks[RECALL_HOOK] = lambda _bus, prompt: recall.for_prompt(shared(), prompt)
    bus.hooks[SEARCH_HOOK] = lambda _bus, query: recall.search_reply(shared(), query)


def memory_of(bus: Bus) -> Memory:
    """The runtime's shared Memory, or a new one for a runtime built without the extension."""
    factory = bus.services.get(SERVICE)
    return factory() if isinstance(factory, _Shared) else Memory(bus)
