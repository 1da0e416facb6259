"""Every Redis key the gateway writes. Kept apart from `joelclaw.keys` so the gateway can evolve
without touching the bus's key file; all keys still start with `jc:` (see joelclaw.keys)."""

from __future__ import annotations

PREFIX = "jc:gw:"

MSGS = PREFIX + "msgs"  # hash: message id -> JSON body (source, prompt, kind, meta, ...)
INFLIGHT = PREFIX + "inflight"  # zset: claimed message id -> claim lease deadline (ms)
ATTEMPTS = PREFIX + "attempts"  # hash: message id -> times claimed (poison-message guard)
STREAK = PREFIX + "p0streak"  # consecutive P0 picks (starvation guard)
SEQ = PREFIX + "seq"  # message id counter: ids are integers, so ties sort by arrival
DEAD = PREFIX + "dead"  # list: messages that crashed the gateway too often (JSON)
BATCH = PREFIX + "batch"  # list: batched notifications awaiting the hourly digest (JSON)
MODE = PREFIX + "mode"  # "sleep" while the owner sleeps; absent means awake
DRAIN_PENDING = PREFIX + "drain:pending"  # set while a drain request is outstanding
TG_OFFSET = PREFIX + "tg:offset"  # the next getUpdates offset (last stored update_id + 1)
AGENT_FAILURES = PREFIX + "agent:failures"  # consecutive failed agent turns
AGENT_FALLBACK = PREFIX + "agent:fallback"  # set (with a TTL) while the fallback model is used
STATS = PREFIX + "stats"  # hash of counters: ignored, deduplicated, auto_acked, coalesced, ...
LAST_TURN = PREFIX + "last_turn"  # JSON: the last agent turn (for /health)

UPDATE_TTL = 7 * 24 * 3600  # Telegram keeps undelivered updates for 24 h; a week is ample
DEDUP_TTL_MS = 30_000  # ADR-0104: identical content within 30 s is dropped


def queue(priority: int) -> str:
    return f"{PREFIX}q:{priority}"  # zset: waiting message id -> enqueue time (ms)


def dedup(digest: str) -> str:
    return f"{PREFIX}dedup:{digest}"


def update_seen(update_id: int) -> str:
    return f"{PREFIX}tg:update:{update_id}"


def idempotency(key: str) -> str:
    return f"{PREFIX}idem:{key}"


def chat_lock(chat_id: int | str) -> str:
    return f"{PREFIX}lock:{chat_id}"


def last_inbound(chat_id: int | str) -> str:
    return f"{PREFIX}lastin:{chat_id}"  # ms of the owner's latest message (merge window)


def history(chat_id: int | str) -> str:
    return f"{PREFIX}history:{chat_id}"  # list of JSON chat messages for the LLM agent
