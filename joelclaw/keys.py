"""Every Redis key joelclaw writes, and how long it lives. One place, so nothing collides.

All keys start with `jc:` so `redis-cli --scan --pattern 'jc:*'` shows exactly our state, and a
Celery broker sharing the server (its `_kombu.*`, queue and `unacked` keys) never clashes with it.
"""

from __future__ import annotations

PREFIX = "jc:"

EVENT_DEDUP_TTL = 24 * 3600  # Inngest's window: a producer retrying within a day is a duplicate.
EVENT_TTL = 7 * 24 * 3600  # Stored events outlive their dedup window so runs can link to them.
WAKE_CLAIM_SECONDS = 30  # A claimed wake-up fires again if its publisher died before publishing.
OUTBOX_GRACE_SECONDS = 10  # A run created but never published is published by the sweeper after.
LEASE_DEFER_SECONDS = 1.0  # A message for a run leased elsewhere is retried this much later.
CRON_SLOT_TTL = 3 * 24 * 3600  # Long enough for any beat restart to see the slot it already ran.


def event(event_id: str) -> str:
    return f"{PREFIX}event:{event_id}"


def event_seen(event_id: str) -> str:
    return f"{PREFIX}event:seen:{event_id}"


EVENT_LOG = PREFIX + "events"  # zset: event id by receive time (ms), capped


def events_by_name(name: str) -> str:
    return f"{PREFIX}events:name:{name}"  # zset: event id by ts, for wait_for_event lookback


def run(run_id: str) -> str:
    return f"{PREFIX}run:{run_id}"  # hash: run record


def run_steps(run_id: str) -> str:
    return f"{PREFIX}run:{run_id}:steps"  # hash: step key -> trace record (capped I/O)


def run_memo(run_id: str) -> str:
    return f"{PREFIX}run:{run_id}:memo"  # hash: step key -> full memoized result


RUN_INDEX = PREFIX + "runs"  # zset: run id by creation time (ms)


def runs_of_function(function_id: str) -> str:
    return f"{PREFIX}runs:fn:{function_id}"


def lease(target: str) -> str:
    return f"{PREFIX}lease:{target}"


LEASES = PREFIX + "leases"  # zset: target by lease expiry (s); the sweeper wakes expired ones
WAKEUPS = PREFIX + "wakeups"  # zset: target by due time (s); durable sleeps, retries, outbox


def waits(event_name: str) -> str:
    return f"{PREFIX}waits:{event_name}"  # hash: "<run>|<step>" -> wait spec (JSON)


def parallel_done(run_id: str, step_key: str) -> str:
    return f"{PREFIX}run:{run_id}:par:{step_key}"  # set of finished member indexes


def run_pending(run_id: str) -> str:
    return f"{PREFIX}run:{run_id}:pending"  # hash: step key -> 1 while an invoke is outstanding


def cron_slot(function_id: str, slot: str) -> str:
    return f"{PREFIX}cron:{function_id}:{slot}"


SWEEP_LOCK = PREFIX + "lock:retention"
GATEWAY_HEARTBEAT = PREFIX + "gateway:heartbeat"
BEAT_TICK = PREFIX + "beat:tick"
WORKERS_SEEN = PREFIX + "workers"  # hash: Celery node name (worker@host) -> last seen (s)
