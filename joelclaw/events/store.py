"""Reading the stored events: one by id, the capped log newest first, and the recent events of
one name (the look-back of `wait_for_event` and `cancel_on`).

Events are written by the bus's dispatch script (`joelclaw.bus.intake.dispatch`), atomically with
the runs they start, their log entries queued on the index backlog, which every read here applies
first; this module reads them, and caps the logs now and then (`prune`), so events stay data that
knows no bus.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.events import index_backlog
from joelclaw.redisconn import paging

if TYPE_CHECKING:
    import redis

DEDUPE = "dedupe:"  # event hash field prefix: "dedupe:<function>" -> JSON link


def _record(raw: dict[bytes, bytes]) -> dict[str, Any] | None:
    if not raw or b"record" not in raw:
        return None
    record: dict[str, Any] = json.loads(raw[b"record"])
    record["duplicates"] = int(raw.get(b"duplicates", 0))
    deduped = {name.decode()[len(DEDUPE):]: json.loads(value) for name, value in raw.items()
               if name.startswith(DEDUPE.encode())}
    if deduped:
        record["deduplicated"] = deduped
    if b"forgotten" in raw:
        record["forgotten"] = json.loads(raw[b"forgotten"])
    return record


def link_dedupe(client: redis.Redis, event_id: str, function_id: str,
                link: dict[str, Any]) -> None:
    """Record on the event that `function_id` started no run for it: it duplicates `link`."""
    client.hset(keys.event(event_id), DEDUPE + function_id, json.dumps(link))


def get_event(client: redis.Redis, event_id: str) -> dict[str, Any] | None:
    """{"event", "received_at", "runs", "duplicates"}, or None when unknown or expired."""
    return _record(client.hgetall(keys.event(event_id)))


def list_events(
    client: redis.Redis, *, name: str | None = None, prefix: str | None = None,
    since: float | None = None, limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first, from the capped log."""
    low = "-inf" if since is None else since * 1000
    out: list[dict[str, Any]] = []
    if limit <= 0:
        return out
    index_backlog.catch_up(client)
    for ids in paging.newest_first(client, keys.EVENT_LOG, "+inf", low):
        pipe = client.pipeline(transaction=False)
        for event_id in ids:
            pipe.hgetall(keys.event(event_id.decode()))
        for raw in pipe.execute():
            record = _record(raw)
            if record is None:
                continue
            event_name = record["event"]["name"]
            if (name and event_name != name) or (prefix and not event_name.startswith(prefix)):
                continue
            out.append(record)
            if len(out) >= limit:
                break
        if len(out) >= limit:
            break
    return out


def recent_by_name(client: redis.Redis, name: str, since_ms: float) -> list[dict[str, Any]]:
    """Events of one name since a time, oldest first (at most 500)."""
    index_backlog.catch_up(client)
    ids = client.zrangebyscore(keys.events_by_name(name), since_ms, "+inf", start=0, num=500)
    pipe = client.pipeline(transaction=False)
    for event_id in ids:
        pipe.hget(keys.event(event_id.decode()), "record")
    return [json.loads(raw)["event"] for raw in pipe.execute() if raw]


def prune(client: redis.Redis, cap: int, batch: int = 5000) -> list[str]:
    """Cap the event log: the oldest events past `cap` are forgotten whole (their records too,
    not only their log entries, so a flood cannot fill Redis for the 7 days events live), and
    per-name entries older than the events they name go. Returns the runs the forgotten events
    started, for the bus to forget the finished ones. The caller applies the index backlog
    first (the sweeper's prune)."""
    doomed = client.zrange(keys.EVENT_LOG, 0, -cap - 1)[:batch]
    started: list[str] = []
    if doomed:
        pipe = client.pipeline(transaction=False)
        for event_id in doomed:
            pipe.hget(keys.event(event_id.decode()), "record")
        for raw in pipe.execute():
            if raw:
                started.extend(str(run) for run in json.loads(raw).get("runs") or [])
        pipe = client.pipeline(transaction=False)
        pipe.delete(*(keys.event(event_id.decode()) for event_id in doomed))
        pipe.zrem(keys.EVENT_LOG, *doomed)
        pipe.execute()
    pipe = client.pipeline(transaction=False)
    cutoff = (time.time() - keys.EVENT_TTL) * 1000
    for name_key in client.scan_iter(match=keys.events_by_name("*"), count=500):
        pipe.zremrangebyscore(name_key, "-inf", cutoff)
        pipe.zremrangebyrank(name_key, 0, -cap - 1)
    pipe.execute()
    return started
