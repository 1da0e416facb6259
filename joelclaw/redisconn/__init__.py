"""Every Redis client joelclaw builds: `clients` turns one URL form (redis://, unix://,
rediss:// with TLS settings, redis+sentinel://) into redis-py clients and kombu broker options;
`resp` is the CLI's small client for plain URLs, which answers read commands without importing
redis-py; `errors` names the Redis errors of whichever of them this process loaded;
`paging` reads a time-scored sorted set newest first while it changes; `backlog` drains a
backlog list with a script, batch by batch.

The names of `clients` load on first use (PEP 562), so importing `resp` costs no redis-py.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.redisconn.clients import (
        SENTINEL,
        TLS,
        NotReplicated,
        SentinelURL,
        broker,
        connect,
        is_sentinel,
        redact,
        wait_replicas,
    )

__all__ = [
    "SENTINEL",
    "TLS",
    "NotReplicated",
    "SentinelURL",
    "broker",
    "connect",
    "is_sentinel",
    "redact",
    "wait_replicas",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module("joelclaw.redisconn.clients"), name)
    globals()[name] = value
    return value
