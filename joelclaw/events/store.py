"""Sending events: validate, deduplicate by id (24 h), log, and start every triggered function.

One Lua script stores the event and creates its runs with an outbox wake-up each, atomically; the
runs are then published straight away. If the sender dies in between, the sweeper publishes them
after a few seconds. Nothing is lost and a redelivered event (same id) triggers nothing new.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import redis

from joelclaw import keys
from joelclaw.bus import waits
from joelclaw.bus.functions import Function
from joelclaw.bus.nowait import Pending
from joelclaw.bus.runs import Run, new_run_id
from joelclaw.bus.scheduler import publish_run
from joelclaw.events.model import Event
from joelclaw.events.schemas import validate_payload

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime

log = logging.getLogger("joelclaw.events")


@dataclass
class SendResult:
    id: str
    name: str
    status: str  # dispatched | deduplicated
    runs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def send_events(
    rt: Runtime,
    events: list[Event],
    *,
    only: Function | None = None,
    trigger: str = "event",
    parent: dict[str, Any] | None = None,
    replay_of: str | None = None,
    skip_dedup: bool = False,
) -> list[SendResult]:
    return [
        _send_one(rt, validate_payload(event), only, trigger, parent, replay_of, skip_dedup)
        for event in events
    ]


def _send_one(
    rt: Runtime,
    event: Event,
    only: Function | None,
    trigger: str,
    parent: dict[str, Any] | None,
    replay_of: str | None,
    skip_dedup: bool,
) -> SendResult:
    functions = [only] if only else rt.registry.triggered_by(event)
    event_dict = event.model_dump()
    runs = [
        Run(id=new_run_id(), function=fn.id, event=event_dict, trigger=trigger,
            parent=parent, replay_of=replay_of)
        for fn in functions
    ]
    now = time.time()
    record = {"event": event_dict, "received_at": now, "runs": [r.id for r in runs]}
    run_keys: list[str] = []
    for run in runs:
        run_keys += [keys.run(run.id), keys.runs_of_function(run.function)]
    payload = [{"id": r.id, "fields": r.to_redis(), "wake": True} for r in runs]
    script_keys = [keys.event_seen(event.id), keys.event(event.id), keys.EVENT_LOG,
                   keys.events_by_name(event.name), keys.RUN_INDEX, keys.WAKEUPS, *run_keys]
    script_args = [event.id, json.dumps(record), event.ts, event.name, keys.EVENT_DEDUP_TTL,
                   keys.EVENT_TTL, rt.settings.event_log_cap, now + keys.OUTBOX_GRACE_SECONDS,
                   json.dumps(payload), int(now * 1000), "1" if skip_dedup else "0",
                   keys.waits(event.name)]
    # The script goes out first and its reply is read after publishing: a worker that gets a
    # message before its run exists retries it shortly (see executor), and a run the script
    # created but nobody published is published from its outbox entry. Deduplicated events
    # publish run ids that were never created, which workers drop.
    pending = Pending(rt.redis, [("EVALSHA", rt.scripts.dispatch.sha, len(script_keys),
                                  *script_keys, *script_args)])
    try:
        for fn, run in zip(functions, runs, strict=True):
            publish_run(rt, fn, run.id, ready_at=now)
    except Exception:  # broker down: the stored runs are published from their outbox entries
        log.warning("could not publish runs of %s now; the sweeper will", event.id, exc_info=True)
    stored = pending.replies()[0]
    if isinstance(stored, redis.exceptions.NoScriptError):
        stored = rt.scripts.dispatch(keys=script_keys, args=script_args)
    elif isinstance(stored, Exception):
        raise stored
    if not stored[0]:
        return SendResult(event.id, event.name, "deduplicated")
    waiting = stored[1]
    if waiting:
        waits.resolve_for_event(rt, event_dict, dict(zip(waiting[::2], waiting[1::2], strict=True)))
    return SendResult(event.id, event.name, "dispatched", [r.id for r in runs])


def get_event(rt: Runtime, event_id: str) -> dict[str, Any] | None:
    raw = rt.redis.hgetall(keys.event(event_id))
    if not raw or b"record" not in raw:
        return None
    record = json.loads(raw[b"record"])
    record["duplicates"] = int(raw.get(b"duplicates", 0))
    return record


def list_events(
    rt: Runtime, *, name: str | None = None, prefix: str | None = None,
    since: float | None = None, limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest first, from the capped log."""
    low = "-inf" if since is None else since * 1000
    out: list[dict[str, Any]] = []
    offset = 0
    while len(out) < limit:
        ids = rt.redis.zrevrangebyscore(keys.EVENT_LOG, "+inf", low, start=offset, num=200)
        if not ids:
            break
        offset += len(ids)
        pipe = rt.redis.pipeline(transaction=False)
        for event_id in ids:
            pipe.hgetall(keys.event(event_id.decode()))
        for raw in pipe.execute():
            if not raw or b"record" not in raw:
                continue
            record = json.loads(raw[b"record"])
            record["duplicates"] = int(raw.get(b"duplicates", 0))
            event_name = record["event"]["name"]
            if (name and event_name != name) or (prefix and not event_name.startswith(prefix)):
                continue
            out.append(record)
            if len(out) >= limit:
                break
    return out


def recent_by_name(rt: Runtime, name: str, since_ms: float) -> list[dict[str, Any]]:
    """Events of one name since a time, oldest first: the lookback for wait_for_event."""
    ids = rt.redis.zrangebyscore(keys.events_by_name(name), since_ms, "+inf", start=0, num=500)
    pipe = rt.redis.pipeline(transaction=False)
    for event_id in ids:
        pipe.hget(keys.event(event_id.decode()), "record")
    return [json.loads(raw)["event"] for raw in pipe.execute() if raw]
