"""The records of a forgetting: what was found where, and the audit entry it leaves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Finding:
    """One thing derived from the target: which store, where in it, what forgetting does."""

    store: str  # events, runs, redis, cache, cassettes, typesense:<coll>, daily-log, memory-file
    where: str
    action: str
    excerpt: str = ""
    apply: Callable[[], Any] | None = field(default=None, repr=False, compare=False)

    def as_dict(self, *, with_excerpt: bool = True) -> dict[str, Any]:
        out = {"store": self.store, "where": self.where, "action": self.action}
        if with_excerpt and self.excerpt:
            out["excerpt"] = self.excerpt
        return out
