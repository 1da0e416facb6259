"""Every Redis key joelclaw writes, and how long it lives. One place, so nothing collides.

All keys start with `jc:` so `redis-cli --scan --pattern 'jc:*'` shows exactly our state, and a
Celery broker sharing the server (its `_kombu.*`, queue and `unacked` keys) never clashes with it.
"""

from __future__ import annotations

PREFIX = "jc:"

EVENT_DEDUP_TTL = 24 * 3600  # Inngest's window: a producer retrying within a day is a duplicate.
EVENT_TTL = 7 * 24 * 3600  # Stored events outlive their dedup window so runs can link to them.
WAKE_CLAIM_SECONDS = 30  # A claimed wake-up fires again if its publisher died before publishing.
OUTBOX_GRACE_SECONDS = 120  # A run created but never published (sender died) goes out after this.
# Longer than a normal broker backlog: a run still waiting in the queue when its outbox entry
# comes due is published twice (harmless, but it costs a no-op execution).
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


# ---- flow control (issue 3) ----------------------------------------------------------------

FLOW_TIMER = "~"  # wake-up targets starting with this are debounce/batch timers, not runs
SINGLETON_TTL = 7 * 24 * 3600  # a singleton key outlives any run it guards


def flow_slots(scope_key: str) -> str:
    return f"{PREFIX}flow:conc:{scope_key}"  # zset: run id -> slot expiry (lease expiry, s)


def flow_queue(scope_key: str) -> str:
    return f"{PREFIX}flow:conc:{scope_key}:q"  # zset: parked run id -> first parked (s), FIFO


def flow_throttle(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:throttle:{function_id}:{key}"  # GCRA theoretical arrival time (ms)


def flow_rate(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:rate:{function_id}:{key}"  # counter, expires with its period


def flow_idempotency(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:idem:{function_id}:{key}"  # run id that holds the key (24 h)


def flow_singleton(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:single:{function_id}:{key}"  # run id currently holding the key


def flow_debounce(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:debounce:{function_id}:{key}"  # hash: event, first, due


def flow_batch(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:batch:{function_id}:{key}"  # list of event JSON


def flow_batch_due(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:batch:{function_id}:{key}:due"


# ---- dashboard (issue 12) -----------------------------------------------------------------

DASHBOARD_SECRET = PREFIX + "web:secret"  # random signing key of dashboard cookies (no TTL)
