"""Every Redis key joelclaw writes, how long it lives, and every Celery queue it uses.

One leaf module, so nothing collides and `redis-cli --scan --pattern 'jc:*'` shows exactly our
state: every key starts with `jc:`, so a Celery broker sharing the server (its `_kombu.*`, queue
and `unacked` keys) never clashes with it. Who reads and writes each key is said beside it; run
records are encoded only by `joelclaw.bus.records.run_store.RunStore`.
"""

from __future__ import annotations

PREFIX = "jc:"

# ---- Celery queues ------------------------------------------------------------------------

FUNCTION_QUEUE = "joelclaw"  # durable functions, unless a function names its own queue
GATEWAY_QUEUE = "gateway"  # the gateway worker (concurrency 1): drain, Telegram intake

# ---- events -------------------------------------------------------------------------------

EVENT_DEDUP_TTL = 24 * 3600  # Inngest's window: a producer retrying within a day is a duplicate.
EVENT_TTL = 7 * 24 * 3600  # Stored events outlive their dedup window so runs can link to them.


def event(event_id: str) -> str:
    # hash: record (JSON), duplicates (count), "dedupe:<function>" (JSON link to the run a
    # semantic dedupe matched), forgotten (JSON stub: why and when it was forgotten)
    return f"{PREFIX}event:{event_id}"


def event_seen(event_id: str) -> str:
    return f"{PREFIX}event:seen:{event_id}"  # the dedup marker, EVENT_DEDUP_TTL


EVENT_LOG = PREFIX + "events"  # zset: event id by receive time (ms), capped


def events_by_name(name: str) -> str:
    return f"{PREFIX}events:name:{name}"  # zset: event id by ts, for wait_for_event lookback


def event_term(term: str) -> str:
    # zset: event id by receive time (ms) for one search term (joelclaw.events.index); trimmed
    # to EVENT_TTL at each indexing batch and expiring EVENT_TTL after its last
    return f"{PREFIX}events:term:{term}"


# list: events sent but not yet in the term sets (JSON: receive time, id, terms), indexed in
# batches by the sweeper and before every search (joelclaw.events.index.catch_up)
EVENT_INDEX_BACKLOG = PREFIX + "events:unindexed"


def event_search(token: str) -> str:
    return f"{PREFIX}events:search:{token}"  # zset: one search's intersection, 60 s, then gone


# ---- runs (encoded by joelclaw.bus.records.run_store.RunStore only) ------------------------------

def run(run_id: str) -> str:
    # hash: the run record's fields, plus "t:<step>" trace records (capped I/O) and
    # "m:<step>" memo records (full results): one key, one read, one expiry per run
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


# ---- provider circuit breakers (joelclaw.coordination.breakers), no TTL ------------------

def breaker(service: str) -> str:
    # hash: state (closed|open), failures (in a row), opens, opened_at, retry_at, closed_at,
    # last_error, last_failure_at, last_success_at, last_latency_ms
    return f"{PREFIX}breaker:{service}"


def breaker_probe(service: str) -> str:
    return f"{PREFIX}breaker:{service}:probe"  # string: the half-open probe's lock, PX 30 s


def breaker_waiting(service: str) -> str:
    return f"{PREFIX}breaker:{service}:waiting"  # set: runs deferred by the open breaker


# ---- effect budgets (joelclaw.coordination.budgets) ----------------------------------------

def budget_run(run_id: str) -> str:
    # hash: notify|write|llm_usd -> spent by the run; "grant:<kind>" -> passes the owner
    # allowed past the cap ("allow once"); TTL BUDGET_TTL
    return f"{PREFIX}budget:run:{run_id}"


def budget_function(function_id: str, window: int) -> str:
    # hash: kind -> spent by the function's runs in window number `window`; TTL two windows
    return f"{PREFIX}budget:fn:{function_id}:{window}"


def budget_day(function_id: str, kind: str, date: str) -> str:
    # string: the owner allowed this kind for the function all day ("allow for the day")
    return f"{PREFIX}budget:day:{function_id}:{kind}:{date}"


def budget_ask_runs(ask_id: str) -> str:
    return f"{PREFIX}budget:ask:{ask_id}:runs"  # set: the runs waiting on the answer


# hash: ask id -> JSON {id, function, kind, scope, cap, spent, run_id, asked_at}: the owner's
# pending questions; a press (or the CLI) resolves one by removing it (HDEL: a claim)
BUDGET_ASKS = PREFIX + "budget:asks"
BUDGET_TTL = 7 * 86400


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


# ---- forgetting on request (joelclaw.forget) -----------------------------------------------

# list of JSON audit records, newest first, no TTL: id, at, by, reason, the selector (an event
# id, or a text's length and SHA-256, never the text), counts per store and what was touched
FORGET_AUDIT = PREFIX + "forget:audit"
FORGET_AUDIT_KEEP = 1000

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


# ---- cassettes and shadow replay (joelclaw.cassettes, joelclaw.shadow) ----------------------

CASSETTE_TTL = 8 * 24 * 3600  # outlives the run it belongs to (retention: 7 days by default)
CASSETTES_KEEP = 5000  # the recent model calls listed (older ones stay with their run)
CASSETTES_LLM = PREFIX + "cassettes:llm"  # zset: LLM cassette id by time (s), trimmed
SHADOW_TTL = 7 * 86400  # a shadow report is kept as long as the runs it replayed
SHADOW_KEEP = 50  # the recent reports listed
SHADOW_REPORTS = PREFIX + "shadow:reports"  # zset: report id by creation (s), trimmed


def cassette(cassette_id: str) -> str:
    return f"{PREFIX}cassette:{cassette_id}"  # string: the cassette (JSON), CASSETTE_TTL


def cassettes_of_run(run_id: str) -> str:
    # hash "<step>#<n>" -> cassette id of the n-th external call of that step's last attempt
    return f"{PREFIX}cassettes:run:{run_id}"  # CASSETTE_TTL


def shadow_report(report_id: str) -> str:
    return f"{PREFIX}shadow:report:{report_id}"  # string: the report (JSON), SHADOW_TTL


# ---- metrics (written when things happen; a scrape only reads) -----------------------------

METRIC_EVENTS = PREFIX + "metrics:events"  # hash "name|outcome" -> count
METRIC_VERIFICATIONS = PREFIX + "metrics:verifications"  # hash "provider|result" -> count
METRIC_RUNS = PREFIX + "metrics:runs"  # hash "function|status" -> runs that ended so
METRIC_STEPS = PREFIX + "metrics:steps"  # hash "function|type|le" / "|sum" / "|count"

# ---- the front door -------------------------------------------------------------------------

WEBHOOK_FAILURE_WINDOW = 60  # signature failures per IP are counted over this window (s)


def webhook_failures(ip: str) -> str:
    return f"{PREFIX}webhooks:authfail:{ip}"  # counter, WEBHOOK_FAILURE_WINDOW


def token_failures(ip: str) -> str:
    return f"{PREFIX}web:authfail:{ip}"  # wrong API tokens and logins, WEBHOOK_FAILURE_WINDOW


ECHO_TTL = 60  # a Todoist task the system completed itself emits nothing for this long (s)


def todoist_echo(task_id: str) -> str:
    return f"{PREFIX}todoist:closed-by-system:{task_id}"  # marker, ECHO_TTL


# ---- functions' own bookkeeping -------------------------------------------------------------

def digest_claimed(date: str) -> str:
    return f"{PREFIX}heartbeat:digest:fanout:{date}"  # the daily digest was requested, 1 day


GATEWAY_STALE_ALERTED = PREFIX + "gw:health:alerted"  # cooldown of the stale-gateway alert

# ---- the gateway ----------------------------------------------------------------------------

GW = PREFIX + "gw:"
GW_MSGS = GW + "msgs"  # hash: message id -> JSON body (source, prompt, kind, meta, ...)
GW_INFLIGHT = GW + "inflight"  # zset: claimed message id -> claim lease deadline (ms)
GW_ATTEMPTS = GW + "attempts"  # hash: message id -> times claimed (poison-message guard)
GW_STREAK = GW + "p0streak"  # consecutive P0 picks while a lower message waited
GW_SEQ = GW + "seq"  # message id counter: ids are integers, so ties sort by arrival
GW_DEAD = GW + "dead"  # list: messages that crashed the gateway too often (JSON)
GW_BATCH = GW + "batch"  # list: batched notifications awaiting the hourly digest (JSON)
GW_MODE = GW + "mode"  # "sleep" while the owner sleeps; absent means awake
GW_DRAIN_PENDING = GW + "drain:pending"  # set while a drain request is outstanding
GW_DRAIN_PENDING_TTL = 60
GW_DRAIN_RUNNING = GW + "drain:running"  # held by the drain loop while it works
GW_UNCONFIGURED_WARNED = GW + "unconfigured:warned"  # cooldown: "no Telegram token" was said
GW_UNCONFIGURED_WARN_TTL = 3600  # once an hour, not once a drain
GW_TG_OFFSET = GW + "tg:offset"  # the next getUpdates offset (last stored update_id + 1)
GW_POLLER_LOCK = GW + "tg:poller"  # one long poller per bot token
GW_POLLER_LOCK_TTL = 5  # refreshed every watchdog tick; a dead gateway's lock lapses fast
GW_AGENT_FAILURES = GW + "agent:failures"  # consecutive failed agent turns
GW_AGENT_FALLBACK = GW + "agent:fallback"  # set (with a TTL) while the fallback model is used
GW_STATS = GW + "stats"  # hash of counters: ignored, deduplicated, auto_acked, coalesced, ...
GW_LAST_TURN = GW + "last_turn"  # JSON: the last agent turn (for /health)
GW_DELIVERED = GW + "delivered"  # list: the latest handled messages (JSON), newest first
GW_DELIVERED_KEEP = 200  # how many of them are kept
GATEWAY_HEARTBEAT = GW + "heartbeat"  # the gateway worker's last heartbeat (s)
GW_UPDATE_TTL = 7 * 24 * 3600  # Telegram keeps undelivered updates for 24 h; a week is ample
GW_DEDUP_TTL_MS = 30_000  # ADR-0104: identical content within 30 s is dropped
GW_REPLAY_WINDOW_MS = 10 * 60_000  # a claim whose gateway died is replayed only this young
CLOCK_OFFSET = PREFIX + "clock:offset"  # seconds the gateway.clock runs ahead
CLOCK_OFFSET_TTL = 3600  # a forgotten offset does not stay


def gw_queue(priority: int) -> str:
    return f"{GW}q:{priority}"  # zset: waiting message id -> enqueue time (ms)


def gw_dedup(digest: str) -> str:
    return f"{GW}dedup:{digest}"  # marker, GW_DEDUP_TTL_MS


def gw_idempotency(key: str) -> str:
    return f"{GW}idem:{key}"  # message id enqueued under this idempotency key


def gw_chat_lock(chat_id: int | str) -> str:
    return f"{GW}lock:{chat_id}"  # holder token: one turn at a time per chat


def gw_last_inbound(chat_id: int | str) -> str:
    return f"{GW}lastin:{chat_id}"  # ms of the owner's latest message (merge window)


def gw_history(chat_id: int | str) -> str:
    return f"{GW}history:{chat_id}"  # list of JSON chat messages for the LLM agent

# ---- gateway delivery progress and dead-holder takeover --------------------------

GW_CLAIM_HOLDERS = GW + "holders"  # hash: in-flight message id -> holder "host:pid:nonce"
GW_DELIVERY_TTL = 24 * 3600  # a message's reply and sent chunks outlive its retries


def gw_delivery(message_id: str) -> str:
    # hash: stored reply, covered ids, sent chunks of a queued message (the ack drops it) or of
    # a direct send ("direct:<idempotency key>"), GW_DELIVERY_TTL
    return f"{GW}delivery:{message_id}"


# ---- dashboard -----------------------------------------------------------------

DASHBOARD_SECRET = PREFIX + "web:secret"  # random signing key of dashboard cookies (no TTL)
NEEDS_SEEN = PREFIX + "web:needs:seen"  # when the owner last marked "needs me" seen (s)
NEEDS_DISMISSED = PREFIX + "web:needs:dismissed"  # set: "run:<id>", "approval:<id>",
# "budget:<date>" the owner dismissed or answered; NEEDS_DISMISSED_TTL after the last
NEEDS_DISMISSED_TTL = 8 * 24 * 3600  # outlives the runs and events it names


def dashboard_session(sid: str) -> str:
    return f"{PREFIX}web:session:{sid}"  # a login, until logout or its cookie's max age

# ---- locks and cooldowns (joelclaw.coordination's Lock and cooldown take these full keys) ------

def lock(name: str) -> str:
    return f"{PREFIX}lock:{name}"  # holder token, PX = the lease its holder renews


def cooldown(name: str) -> str:
    return f"{PREFIX}cooldown:{name}"  # when the period started (s), PX = the period

# ---- the tiered cache (joelclaw.cache) ------------------------------------------------------

CACHE = PREFIX + "cache:"  # + "<namespace>:<key>": envelope JSON, PX = the entry's TTL
CACHE_STATS = PREFIX + "cache-stats"  # hash "<tier>|<hit|miss|error>", "fetch|count" (no TTL)


def cache_entry(namespace: str, key: str) -> str:
    return f"{CACHE}{namespace}:{key}"


def cache_fill_lock(namespace: str, key: str) -> str:
    return lock(f"cache:{namespace}:{key}")  # one process fetches a missing entry, fill lease

# ---- memory (joelclaw.memory; the old system's keys, reference §5.4) ------------------------

MEMORY = PREFIX + "memory:"
MEMORY_OBSERVE_LOCK_TTL = 3600  # a repeat of a session within this is deduplicated by the lock
MEMORY_OBSERVE_DONE_TTL = 30 * 86400  # ... and after it, by the done marker
MEMORY_OBSERVATIONS_TTL = 30 * 86400  # the day's observation summaries and its latest one
MEMORY_PROPOSAL_KEEP_TTL = 30 * 86400  # a decided proposal is kept (duplicate approvals)
MEMORY_PROPOSAL_SEQ_TTL = 8 * 86400  # the day's proposal counter outlives the day
MEMORY_PROPOSAL_LOCK_TTL = 60  # one decision at a time per proposal
MEMORY_STAGED_TTL = 7 * 86400  # which proposals a reflect run created (its retries reuse them)
MEMORY_PENDING = MEMORY + "review:pending"  # list of proposal ids awaiting a decision (no TTL)
MEMORY_LLM_PENDING = MEMORY + "review:llm-pending"  # list of ids for the batch LLM review
MEMORY_NUDGE_SENT = cooldown("memory:review:nudge-sent")  # the review nudge, once per 24 h


def memory_observe_lock(dedupe_key: str) -> str:
    return lock(f"memory:observe:{dedupe_key}")  # the observing run's id, OBSERVE_LOCK_TTL


def memory_observe_done(dedupe_key: str) -> str:
    return f"{MEMORY}observe:done:{dedupe_key}"  # the run that observed it, OBSERVE_DONE_TTL


def memory_latest(date: str) -> str:
    return f"{MEMORY}latest:{date}"  # JSON {summary, metadata}, OBSERVATIONS_TTL


def memory_observations(date: str) -> str:
    return f"{MEMORY}observations:{date}"  # list of JSON {summary, metadata}, OBSERVATIONS_TTL


def memory_observed_sessions(date: str) -> str:
    return f"{MEMORY}observations:{date}:sessions"  # set of dedupe keys, OBSERVATIONS_TTL


def memory_proposal(proposal_id: str) -> str:
    return f"{MEMORY}review:proposal:{proposal_id}"  # hash of JSON fields; PROPOSAL_KEEP_TTL


def memory_proposal_seq(date: str) -> str:
    return f"{MEMORY}review:seq:{date}"  # INCR counter behind p-YYYYMMDD-NNN, PROPOSAL_SEQ_TTL


def memory_proposal_lock(proposal_id: str) -> str:
    return lock(f"memory:proposal:{proposal_id}")  # PROPOSAL_LOCK_TTL


def memory_staged(run_id: str) -> str:
    return f"{MEMORY}reflect:staged:{run_id}"  # hash: index -> proposal id, STAGED_TTL


# ---- heartbeat and checks (joelclaw.checks, tasks/checks.py) ----------------------
# Each check owns its cooldown (joelclaw.coordination.cooldown, PX = the period) and its snoozes
# (s4h:<key>).

HEALTH_FATAL_NOTIFIED = cooldown("health:fatal")  # the fatal alert, once per period
EMAIL_TRIAGE_LAST_RUN = cooldown("email:triage:last-run")  # 2 h between triages
TASKS_TRIAGE_LAST_NOTIFIED = cooldown("tasks:triage:last-notified")  # 2 h between notices
TASKS_TRIAGE_LAST_HASH = PREFIX + "tasks:triage:last-hash"  # string, EX task_triage_hash_hours
CALENDAR_LAST_RUN = cooldown("calendar:check:last-run")  # 4 h between calendar notices
STALE_RUNS_LAST_CHECK = cooldown("loops:stale:last-check")  # 1 h between stale-run notices
TRIGGERS_AUDIT_NOTIFIED = cooldown("triggers:audit:notified")  # drift notice, once per period
TRIGGERS_AUDIT_SINCE = PREFIX + "triggers:audit:since"  # first audit (s): older slots unjudged
VAULT_NOTIFIED = cooldown("vault:sync:notified")  # a failed/diverged vault sync notice
NETWORK_STATUS = PREFIX + "network:status"  # JSON: the last `network/status-update` snapshot
NETWORK_STATUS_TTL = 7 * 24 * 3600
SNOOZE_SECONDS = 4 * 3600  # an `s4h:<key>` button snoozes its check's notice this long
SNOOZE_TEXT_TTL = 3 * 24 * 3600  # the text of a message carrying a snooze button


def health_degraded_notified(component: str) -> str:
    return cooldown(f"health:degraded:{component}")  # one degraded notice per component


def snooze(key: str) -> str:
    return cooldown(f"snooze:{key}")  # set while `key` is snoozed (SNOOZE_SECONDS)


def snooze_text(key: str) -> str:
    return f"{PREFIX}snooze:text:{key}"  # the snoozable message's text, SNOOZE_TEXT_TTL


def digest_done(date: str) -> str:
    return f"{PREFIX}digest:done:{date}"  # the day's digest was written (path), 2 days
# ---- agents, approvals, media ----------------------------------------------------

APPROVALS = PREFIX + "approvals:"
APPROVALS_PENDING = APPROVALS + "pending"  # hash request id -> JSON request, until resolved
APPROVALS_HISTORY = APPROVALS + "history"  # list of JSON resolutions, newest first, trimmed
APPROVALS_HISTORY_KEEP = 500
APPROVALS_CATEGORIES = APPROVALS + "categories"  # hash JSON [agent, category] -> JSON {at, by}
MEDIA_PROCESSED_TTL = 24 * 3600  # a media id seen again within a day is a duplicate


def media_processed(media_id: str) -> str:
    return cooldown(f"media:processed:{media_id}")  # the first run's claim, MEDIA_PROCESSED_TTL
# ---- telemetry, LLM spend, o11y triage (joelclaw.telemetry) ----------------------

OTEL = PREFIX + "otel:"
OTEL_PENDING = OTEL + "pending"  # list of telemetry event JSON, drained into Typesense in
# batches by every worker's flusher (joelclaw.telemetry.plugin), capped (otel_pending_cap)
SPEND = PREFIX + "spend:"
SPEND_TTL = 400 * 86400  # a year of daily spend, for `joelclaw otel stats`
SPEND_DAYS = SPEND + "days"  # zset: date -> first spend (unix s); trimmed to SPEND_TTL


def spend_day(date: str) -> str:
    # hash: usd, calls, input_tokens, output_tokens (totals) and fn:<id>:usd / fn:<id>:calls /
    # model:<name>:usd per function and model, for one UTC date; SPEND_TTL
    return f"{SPEND}day:{date}"


def spend_warned(date: str) -> str:
    return cooldown(f"spend:warned:{date}")  # the 80 % budget warning, once per date (2 days)


O11Y = PREFIX + "o11y:"
O11Y_CURSOR = O11Y + "cursor"  # the newest otel_events timestamp (ms) triage has scanned
O11Y_ESCALATIONS = O11Y + "escalations"  # zset: dedup key -> time of its Telegram escalation


def o11y_seen(dedup_key: str) -> str:
    return cooldown(f"o11y:seen:{dedup_key}")  # a triaged error's dedup window (o11y_dedup_hours)


# INCRed just before WAIT (redisconn.wait_replicas): one key, no TTL
REPLICATION_FENCE = "jc:replication-fence"
