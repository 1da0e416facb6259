"""Keys of what works for the owner: memory, checks, agents and approvals, media, telemetry and
spend, cassettes and shadow replay, forgetting, and functions' own bookkeeping."""

from __future__ import annotations

from joelclaw.keys.base import PREFIX, cooldown, lock

# ---- forgetting on request (joelclaw.forget) -----------------------------------------------

# list of JSON audit records, newest first, no TTL: id, at, by, reason, the selector (an event
# id, or a text's length and SHA-256, never the text), counts per store and what was touched
FORGET_AUDIT = PREFIX + "forget:audit"
FORGET_AUDIT_KEEP = 1000

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


# ---- functions' own bookkeeping -------------------------------------------------------------

def digest_claimed(date: str) -> str:
    return f"{PREFIX}heartbeat:digest:fanout:{date}"  # the daily digest was requested, 1 day


GATEWAY_STALE_ALERTED = PREFIX + "gw:health:alerted"  # cooldown of the stale-gateway alert

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
OTEL_FLUSHING = OTEL + "flushing"  # list: the batch the flusher holding OTEL_FLUSH_LOCK is
# importing; a flusher that died leaves it for the next one (imports are idempotent upserts)
OTEL_FLUSH_LOCK = lock("otel-flush")  # one flusher at a time; readers wait for it to finish
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
O11Y_CURSOR = O11Y + "cursor"  # JSON: the newest otel_events ms triage scanned, ids seen in it
O11Y_ESCALATIONS = O11Y + "escalations"  # zset: dedup key -> time of its Telegram escalation


def o11y_seen(dedup_key: str) -> str:
    return cooldown(f"o11y:seen:{dedup_key}")  # a triaged error's dedup window (o11y_dedup_hours)


# INCRed just before WAIT (redisconn.wait_replicas): one key, no TTL
REPLICATION_FENCE = "jc:replication-fence"
