"""Keys of the gateway (its queue, delivery and Telegram state) and of the dashboard."""

from __future__ import annotations

from joelclaw.keys.base import PREFIX

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
