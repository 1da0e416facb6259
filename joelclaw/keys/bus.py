"""Keys and queues of the durable-function bus: runs, leases and durable time, hot reload, cron,
waits, canvas steps, flow control, pauses, bulk actions and the run metrics."""

from __future__ import annotations

from joelclaw.keys.base import PREFIX

# ---- Celery queues ------------------------------------------------------------------------

FUNCTION_QUEUE = "joelclaw"  # durable functions, unless a function names its own queue
FUNCTION_TASK_PREFIX = "joelclaw.fn."  # a function's Celery task is this plus its id
GATEWAY_QUEUE = "gateway"  # the gateway worker (concurrency 1): drain, Telegram intake

# ---- runs (encoded by joelclaw.bus.records.run_store.RunStore only) ------------------------------

def run(run_id: str) -> str:
    # hash: the run record's fields, plus "t:<step>" trace records (capped I/O) and
    # "m:<step>" memo records (full results): one key, one read, one expiry per run; "lost"
    # is the sweeper's mark of an execution that died holding its lease (the next begin clears it)
    return f"{PREFIX}run:{run_id}"


def run_pending(run_id: str) -> str:
    return f"{PREFIX}run:{run_id}:pending"  # hash: step key -> 1 while an invoke is outstanding


def parallel_done(run_id: str, step_key: str) -> str:
    return f"{PREFIX}run:{run_id}:par:{step_key}"  # set of finished member indexes


PARALLEL_DONE_TTL = 7 * 24 * 3600  # outlives any parallel step's members
RUN_INDEX = PREFIX + "runs"  # zset: run id by creation time (ms)


def runs_of_function(function_id: str) -> str:
    return f"{PREFIX}runs:fn:{function_id}"  # zset: run id by creation time (ms)


def function_stats(bucket_start: int) -> str:
    """hash "function|status|body bucket|wait bucket" -> runs created in the
    FUNCTION_STATS_BUCKET seconds from `bucket_start` that ended so
    (joelclaw.bus.records.metrics)."""
    return f"{PREFIX}fnstats:{bucket_start}"


FUNCTION_STATS_BUCKET = 600  # ten minutes: the functions view's 24 h starts on such a boundary
FUNCTION_STATS_TTL = 24 * 3600 + 2 * FUNCTION_STATS_BUCKET  # a day of buckets, and the edges


# ---- liveness and durable time -------------------------------------------------------------

def lease(target: str) -> str:
    return f"{PREFIX}lease:{target}"  # string: holder token, PX = the run lease


LEASES = PREFIX + "leases"  # zset: target by lease expiry (s); the sweeper wakes expired ones


def cancel_ask(run_id: str) -> str:
    """String: the reason of a cancellation the run's executing process has to learn of (its
    lease renewer reads these for the runs it holds: steps read no cancel flag)."""
    return f"{PREFIX}cancel:ask:{run_id}"


def cancel_ack(run_id: str) -> str:
    """String: the lease token of the execution that learned of the cancellation."""
    return f"{PREFIX}cancel:ack:{run_id}"


WAKEUPS = PREFIX + "wakeups"  # zset: target by due time (s); durable sleeps, retries, rechecks
OUTBOX = PREFIX + "outbox"  # zset: published target by safety due time (s); see below
WAKE_CLAIM_SECONDS = 30  # A claimed wake-up fires again if its publisher died before publishing.
# Every published run keeps a safety entry in OUTBOX (settings.outbox_grace_seconds, 120 s by
# default) until an execution begins: if it comes due, the sweeper checks the broker and
# publishes again only when the run's message is gone (a sender that died, `celery purge`, a
# lost message); a backlog just waits.
LEASE_DEFER_SECONDS = 1.0  # A message for a run leased elsewhere is retried this much later.
RETENTION_LOCK = PREFIX + "lock:retention"  # one sweeper at a time prunes the run indexes
WORKERS_SEEN = PREFIX + "workers"  # hash: Celery node name (worker@host) -> last seen (s)
BEAT_TICK = PREFIX + "beat:tick"  # string: beat's last tick (s)

# ---- hot reload (joelclaw reload) ------------------------------------------------------------
# hash, no TTL: generation (+1 per reload; every worker and beat restarts when it grows past the
# one it started with), version (the code version the reload loaded), previous_version,
# functions (JSON list of function ids), removed (JSON {function id: version it was removed
# in}), at (s), by (who asked)
CODE = PREFIX + "code"
BEAT_SCHEDULE = PREFIX + "beat:schedule"  # string JSON: beat's entries, generation, code version
# Cron catch-up (joelclaw.bus.celery.catchup), no TTL: hash "<entry>|<cron>|<timezone>" -> the
# newest slot beat has handled (s); hash "<entry>" -> the entry's last catch-up (JSON: at, policy,
# missed, dropped, dispatched slots).
CRON_LAST = PREFIX + "cron:last"
CRON_CATCHUP = PREFIX + "cron:catchup"
# Absence triggers (joelclaw.bus.flow.absence), no TTL: hash wake-up target
# `~absent~<fn>~<trigger index>:<key>` -> JSON {armed_at, last_at, last_event, fired_at}; the
# deadline itself is the target's score in WAKEUPS.
ABSENCES = PREFIX + "absent"



def waits(event_name: str) -> str:
    return f"{PREFIX}waits:{event_name}"  # hash: "<run>|<step>" -> wait spec (JSON)

# ---- plain Celery tasks and canvas as steps (joelclaw.bus.execution.canvas) ----------------------

CANVAS_TTL = 8 * 24 * 3600  # outlives the run it belongs to (retention: 7 days by default)
CANVAS_TASK_PREFIX = "jc-"  # the deterministic Celery task ids of step.task/step.canvas


def canvas(base_id: str) -> str:
    # hash: "spec" (the canvas tree, JSON), "run", "step", "launched"; "r:<path>" a node's
    # result, "n:<path>" finished members of a group, "p:<path>" a node's publish claim (claim
    # time, then "sent"), "error" (the failure that ended the step)
    return f"{PREFIX}canvas:{base_id}"


def task_info(task_id: str) -> str:
    # hash: name, published_at, started_at (first), last_started_at, ended_at, deliveries,
    # retries, worker, error (JSON): written by the publisher and the workers' task signals
    return f"{PREFIX}task:{task_id}"


# ---- flow control ---------------------------------------------------------------------------

FLOW_TIMER = "~"  # wake-up targets starting with this are debounce/batch timers, not runs
SINGLETON_TTL = 7 * 24 * 3600  # a singleton key outlives any run it guards
IDEMPOTENCY_TTL = 24 * 3600  # Inngest's window: one run per idempotency key per day
FLOW_QUEUE_TTL = 7 * 24 * 3600  # concurrency slots and queues of an idle key go away


def flow_slots(scope_key: str) -> str:
    return f"{PREFIX}flow:conc:{scope_key}"  # zset: run id -> slot expiry (lease expiry, s)


def flow_queue(scope_key: str) -> str:
    return f"{PREFIX}flow:conc:{scope_key}:q"  # zset: parked run id -> first parked (s), FIFO


def flow_throttle(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:throttle:{function_id}:{key}"  # GCRA theoretical arrival time (ms)


def flow_rate(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:rate:{function_id}:{key}"  # counter, expires with its period


def flow_idempotency(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:idem:{function_id}:{key}"  # run id that holds the key, IDEMPOTENCY_TTL


def flow_dedupe(function_id: str, digest: str) -> str:
    # JSON {run, event} of the first run with this normalised content hash; the dedupe window
    return f"{PREFIX}flow:dedupe:{function_id}:{digest}"


def flow_similar(function_id: str) -> str:
    return f"{PREFIX}flow:similar:{function_id}"  # zset: run id by time (s), the window + 60 s


def flow_similar_vectors(function_id: str) -> str:
    # hash: run id -> JSON {run, event, vector, text}, pruned to the window with flow_similar
    return f"{PREFIX}flow:similar:{function_id}:v"


def flow_singleton(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:single:{function_id}:{key}"  # run id currently holding the key


def flow_debounce(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:debounce:{function_id}:{key}"  # hash: event, first, due


def flow_batch(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:batch:{function_id}:{key}"  # list of event JSON


def flow_batch_due(function_id: str, key: str) -> str:
    return f"{PREFIX}flow:batch:{function_id}:{key}:due"


# ---- pause / resume (joelclaw.bus.control.pausing) -----------------------------------------------

PAUSED = PREFIX + "paused"  # hash: function id -> JSON {at, by, reason}, until resumed (no TTL)


def paused_runs(function_id: str) -> str:
    return f"{PREFIX}paused:{function_id}"  # zset: parked run id -> its creation (s), oldest first


# ---- bulk actions on runs (joelclaw.bus.control.bulk) --------------------------------------------

BULK_TTL = 7 * 86400  # a bulk job and its outcomes are kept as long as the runs they name
BULK_KEEP = 100  # the recent jobs listed
BULK_JOBS = PREFIX + "bulk:jobs"  # zset: job id by creation (s), trimmed to BULK_KEEP


def bulk_job(job_id: str) -> str:
    # hash: spec (JSON: action, filter, by, created_at, ids), done (count), status (running |
    # done), counts (JSON outcome -> n), updated_at (s); BULK_TTL
    return f"{PREFIX}bulk:{job_id}"


def bulk_results(job_id: str) -> str:
    return f"{PREFIX}bulk:{job_id}:results"  # list of JSON outcomes, in order; BULK_TTL


# ---- metrics (written when things happen; a scrape only reads) -----------------------------

METRIC_EVENTS = PREFIX + "metrics:events"  # hash "name|outcome" -> count
METRIC_VERIFICATIONS = PREFIX + "metrics:verifications"  # hash "provider|result" -> count
METRIC_RUNS = PREFIX + "metrics:runs"  # hash "function|status" -> runs that ended so
METRIC_STEPS = PREFIX + "metrics:steps"  # hash "function|type|le" / "|sum" / "|count"
# list: increments of METRIC_RUNS, METRIC_STEPS and the function stats not applied yet (strings
# "key\tfield\tamount\tttl"; joelclaw.bus.records.metrics.catch_up applies them)
METRIC_BACKLOG = PREFIX + "metrics:backlog"
