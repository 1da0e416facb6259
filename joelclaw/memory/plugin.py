"""How memory plugs into the system, without the bus or the gateway knowing it.

`install(runtime)` keeps one `Memory` for the runtime (built lazily: nothing connects until it is
used) and offers it to functions as `ctx.memory`, and to the gateway through two hooks: "recall"
(the agent turn's memory block) and "search" (the memory half of /search). Memory adds no Celery
tasks of its own: its functions are the `tasks.memory` module. Memory's modules (and the
Typesense client) are imported on first use, so a runtime that never recalls never loads them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from joelclaw.bus.ports import RECALL, SEARCH

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.memory.service import Memory

SERVICE = "memory"


class _Shared:
    """The runtime's one Memory: its Typesense client, embedder and cache are reused."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._memory: Memory | None = None
        self._lock = threading.Lock()

    def __call__(self, *_: Any) -> Memory:
        with self._lock:
            if self._memory is None:
                from joelclaw.memory.service import Memory

                self._memory = Memory(self.bus)
            return self._memory


def install(bus: Bus) -> None:
    """Offer `ctx.memory` and the recall/search hooks; no Celery setup is needed."""
    shared = _Shared(bus)
    bus.services[SERVICE] = shared

    def recall_for_prompt(_bus: Bus, prompt: str) -> str:
        from joelclaw.memory.recall import for_prompt

        return for_prompt(shared(), prompt)

    def search_reply(_bus: Bus, query: str) -> str | None:
        from joelclaw.memory.recall import search_reply as reply

        return reply(shared(), query)

    bus.hooks[RECALL] = recall_for_prompt
    bus.hooks[SEARCH] = search_reply


def memory_of(bus: Bus) -> Memory:
    """The runtime's shared Memory, or a new one for a runtime built without the extension."""
    factory = bus.services.get(SERVICE)
    if isinstance(factory, _Shared):
        return factory()
    from joelclaw.memory.service import Memory

    return Memory(bus)
