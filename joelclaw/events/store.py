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
from joelclaw.bus.scheduler import DEFAULT_PRIORITY, publish_run
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
    batch: list[dict[str, Any]] | None = None,
    seed: dict[str, Any] | None = None,
) -> list[SendResult]:
    """`batch` and `seed` (flow control, reruns) apply to the one run of `only`."""
    extra = _Extra(batch, seed) if batch is not None or seed is not None else None
    return [
        _send_one(rt, validate_payload(event), only, trigger, parent, replay_of, skip_dedup,
                  extra)
        for event in events
    ]


@dataclass
class _Extra:
    """What a flow-control or rerun run carries beyond an ordinary one."""

    batch: list[dict[str, Any]] | None = None
    seed: dict[str, Any] | None = None  # {"memo": {...}, "steps": {...}, "rerun_from": key}


def _send_one(
    rt: Runtime,
    event: Event,
    only: Function | None,
    trigger: str,
    parent: dict[str, Any] | None,
    replay_of: str | None,
    skip_dedup: bool,
    extra: _Extra | None = None,
) -> SendResult:
    functions = [only] if only else rt.registry.triggered_by(event)
    event_dict = event.model_dump()
    held: list[Function] = []
    if trigger not in DIRECT_TRIGGERS:
        held = [fn for fn in functions if _held_by_timer(fn)]
        if held:
            functions = [fn for fn in functions if fn not in held]
    runs = [
        Run(id=new_run_id(), function=fn.id, event=event_dict, trigger=trigger,
            parent=parent, replay_of=replay_of, priority=_priority(fn, event_dict),
            admitted=trigger in OPERATOR_TRIGGERS)
        for fn in functions
    ]
    if extra is not None:
        _seed(rt, runs, extra)
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
            if not _throttled(fn):  # those are published once their start is reserved
                publish_run(rt, fn, run.id, ready_at=now,
                            priority=DEFAULT_PRIORITY if run.priority is None else run.priority)
    except Exception:  # broker down: the stored runs are published from their outbox entries
        log.warning("could not publish runs of %s now; the sweeper will", event.id, exc_info=True)
    stored = pending.replies()[0]
    if isinstance(stored, redis.exceptions.NoScriptError):
        stored = rt.scripts.dispatch(keys=script_keys, args=script_args)
    elif isinstance(stored, Exception):
        raise stored
    if not stored[0]:
        return SendResult(event.id, event.name, "deduplicated")
    started = _after_dispatch(rt, functions, runs, held, event_dict, now)
    waiting = stored[1]
    if waiting:
        waits.resolve_for_event(rt, event_dict, dict(zip(waiting[::2], waiting[1::2], strict=True)))
    return SendResult(event.id, event.name, "dispatched", [r.id for r in runs] + started)


DIRECT_TRIGGERS = frozenset({"debounce", "batch", "replay", "rerun", "invoke"})
# A replay or rerun is an operator's explicit request: rate limit, idempotency and singleton
# (which would skip it) do not apply; throttle and concurrency still do.
OPERATOR_TRIGGERS = frozenset({"replay", "rerun"})


def _held_by_timer(fn: Function) -> bool:
    return fn.flow is not None and (fn.flow.debounce is not None or fn.flow.batch is not None)


def _priority(fn: Function, event: dict[str, Any]) -> int | None:
    """The broker level of a function with a priority expression (None: the default)."""
    if fn.flow is None or fn.flow.priority is None:
        return None
    from joelclaw.bus.flow.options import priority_level

    try:
        value = fn.flow.priority.evaluate({"event": event})
    except ValueError:
        log.warning("priority of %s could not be evaluated; using the default", fn.id)
        return None
    return priority_level(value, DEFAULT_PRIORITY)


def _seed(rt: Runtime, runs: list[Run], extra: _Extra) -> None:
    """Batch events and a rerun's reused steps, stored before the run can execute."""
    run = runs[0]
    run.batch = extra.batch
    seed = extra.seed or {}
    run.rerun_from = seed.get("rerun_from")
    pipe = rt.redis.pipeline(transaction=False)
    if seed.get("memo"):
        pipe.hset(keys.run_memo(run.id), mapping={k: json.dumps(v)
                                                  for k, v in seed["memo"].items()})
    if seed.get("steps"):
        pipe.hset(keys.run_steps(run.id), mapping={k: json.dumps(v, default=str)
                                                   for k, v in seed["steps"].items()})
    if len(pipe):
        pipe.execute()


def _throttled(fn: Function) -> bool:
    return fn.flow is not None and fn.flow.throttle is not None


def _after_dispatch(rt: Runtime, functions: list[Function], runs: list[Run],
                    held: list[Function], event: dict[str, Any], now: float) -> list[str]:
    """Flow control once the event is known to be new: throttle reservations (in event order,
    so delayed runs start FIFO), timers, cancel_on listeners."""
    started: list[str] = []
    for fn, run in zip(functions, runs, strict=True):
        if _throttled(fn):
            from joelclaw.bus.flow.gate import reserve

            try:
                reserve(rt, fn, run, now)
            finally:  # unpublished, the outbox wake-up would still start it (later)
                publish_run(rt, fn, run.id, ready_at=now, priority=DEFAULT_PRIORITY
                            if run.priority is None else run.priority)
    if held:
        from joelclaw.bus.flow import timers

        for fn in held:
            started += timers.defer(rt, fn, event)
    listening = [(fn, run.id) for fn, run in zip(functions, runs, strict=True)
                 if fn.flow is not None and fn.flow.cancel_on]
    if listening:
        from joelclaw.bus.flow import cancel

        cancel.register(rt, listening, event, now)
    return started


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
