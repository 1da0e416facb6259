"""A worker's presence stamp: one field of `keys.WORKERS_SEEN` per Celery node, written by the
node's sweeper every tick. Health, the dead-man check, `gateway restart`, `reload` and the
sweepers of the same host read it; this module is the one writer and the one reader of its
format (JSON; a bare timestamp from older workers)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joelclaw import keys

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True, slots=True)
class Presence:
    """When the node last stamped, what it consumes (its roles derive from its queues), the
    process and host stamping (a restart shows as a new pid; a dead pid of this host, as a
    death), and its code (the version and reload generation it runs). None: not said."""

    at: float
    queues: list[str] | None = None
    pid: int | None = None
    host: str | None = None
    code_version: str | None = None
    generation: int | None = None


def stamp(queues: Iterable[str], pid: int, host: str, code: dict[str, Any]) -> str:
    """This moment's stamp of a node (`code`: its `CodeWatch.presence()`)."""
    return json.dumps({"at": time.time(), "queues": sorted(queues), "pid": pid, "host": host,
                       **code})


def parse(raw: bytes | str) -> Presence:
    """A stamp as written by any version; ValueError when it cannot be read."""
    try:
        return Presence(float(raw))
    except ValueError:
        pass
    try:
        entry = json.loads(raw)
        queues, pid, host = entry.get("queues"), entry.get("pid"), entry.get("host")
        generation = entry.get("generation")
        return Presence(
            float(entry["at"]),
            [str(q) for q in queues] if isinstance(queues, list) else None,
            pid if isinstance(pid, int) else None,
            host if isinstance(host, str) else None,
            entry.get("code_version"),
            int(generation) if generation is not None else None)
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"unreadable presence stamp: {exc}") from None


def read_all(client: redis.Redis) -> dict[str, Presence]:
    """Every readable stamp, by node name (an unreadable one is skipped)."""
    found = {}
    for node, raw in client.hgetall(keys.WORKERS_SEEN).items():
        try:
            found[node.decode(errors="replace")] = parse(raw)
        except ValueError:
            continue
    return found


def read(client: redis.Redis, nodes: list[str]) -> dict[str, Presence | None]:
    """These nodes' stamps (None: none, or unreadable)."""
    raw = client.hmget(keys.WORKERS_SEEN, nodes) if nodes else []
    out: dict[str, Presence | None] = {}
    for node, value in zip(nodes, raw, strict=True):
        try:
            out[node] = parse(value) if value is not None else None
        except ValueError:
            out[node] = None
    return out
