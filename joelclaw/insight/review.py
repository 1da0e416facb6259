"""The memory review queue as the dashboard sees it: a small interface the memory side provides.

The memory package exposes a factory, named by `JOELCLAW_MEMORY_REVIEW_PROVIDER` (default
`joelclaw.memory.review:review_queue`), taking the runtime and returning a `ReviewQueue`: a read
function for pending proposals and approve/reject callables. Until that module exists the
dashboard says "memory not available" instead of failing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from joelclaw.errors import JoelclawError

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

DEFAULT_PROVIDER = "joelclaw.memory.review:review_queue"


@dataclass(frozen=True)
class Proposal:
    """One proposed memory change waiting for the owner (`p-YYYYMMDD-NNN` in the old system)."""

    id: str
    change: str
    section: str | None = None
    status: str = "pending"
    captured_at: float | None = None
    source: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReviewQueue:
    """`pending(limit)` lists proposals, oldest first; `approve(id)` and `reject(id, reason)`
    act on one and return a short outcome; both raise KeyError for an unknown id and
    ValueError for one that is no longer pending."""

    pending: Callable[[int], list[Proposal]]
    approve: Callable[[str], str]
    reject: Callable[[str, str | None], str]


class ReviewUnavailable(JoelclawError):
    """No memory review provider is installed or it could not be loaded; says why."""


def review_queue(rt: Bus) -> ReviewQueue:
    """The provider's queue, or ReviewUnavailable with the reason."""
    spec = getattr(rt.settings, "memory_review_provider", None) or DEFAULT_PROVIDER
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise ReviewUnavailable(f"memory is not installed ({module_name} not found)") from None
        raise ReviewUnavailable(f"{module_name} failed to import: {exc}") from None
    except Exception as exc:  # a broken provider must not take the dashboard down with it
        raise ReviewUnavailable(f"{module_name} failed to import: {exc}") from None
    factory = getattr(module, attribute or "review_queue", None)
    if not callable(factory):
        raise ReviewUnavailable(f"{spec} is not a callable returning a ReviewQueue")
    queue = factory(rt)
    if not isinstance(queue, ReviewQueue):
        raise ReviewUnavailable(f"{spec} returned {type(queue).__name__}, not a ReviewQueue")
    return queue
