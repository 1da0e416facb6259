"""The gateway's queue as a person wants to see it: sleep mode, depth by priority, the messages
waiting in each tier (peeked, never claimed), those in flight with their lease, dead letters,
the batched digest, counters, the last agent turn, and the last messages the drain handled.

Reads the gateway's keys (`joelclaw.keys` GW_*) and decodes messages with the queue's own
`Message.from_json`; nothing here changes the queue.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.gateway.clock import Clock
from joelclaw.gateway.queue import AGE_MS, P2, P3, P3_TTL_MS, Message

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
PRIORITIES = (0, 1, 2, 3)
PROMPT_PREVIEW = 300


def gateway_view(rt: Bus, *, peek: int = 20, now: float | None = None) -> dict[str, Any]:
    """`now` defaults to the gateway queue's clock (joelclaw.gateway.clock: real time plus any
    offset), so ages and the priority a waiting message has now follow the queue's own rules."""
    offset = Clock(rt.redis).offset()
    now = time.time() + offset if now is None else now
    r = rt.redis
    pipe = r.pipeline(transaction=False)
    pipe.get(keys.GW_MODE)
    pipe.get(keys.GATEWAY_HEARTBEAT)
    for p in PRIORITIES:
        pipe.zcard(keys.gw_queue(p))
        pipe.zrange(keys.gw_queue(p), 0, peek - 1, withscores=True)
    pipe.zrange(keys.GW_INFLIGHT, 0, peek - 1, withscores=True)
    pipe.zcard(keys.GW_INFLIGHT)
    pipe.lrange(keys.GW_DEAD, 0, peek - 1)
    pipe.llen(keys.GW_DEAD)
    pipe.lrange(keys.GW_BATCH, 0, peek - 1)
    pipe.llen(keys.GW_BATCH)
    pipe.hgetall(keys.GW_STATS)
    pipe.get(keys.GW_LAST_TURN)
    pipe.get(keys.GW_AGENT_FAILURES)
    replies = pipe.execute()
    mode, beat = replies[0], replies[1]
    tiers_raw = replies[2:2 + 2 * len(PRIORITIES)]
    (inflight, inflight_n, dead, dead_n, batch, batch_n, stats, last_turn,
     failures) = replies[2 + 2 * len(PRIORITIES):]
    waiting = {f"p{p}": [(m.decode(), s) for m, s in tiers_raw[2 * i + 1]]
               for i, p in enumerate(PRIORITIES)}
    bodies = _bodies(rt, [m for tier in waiting.values() for m, _ in tier]
                     + [m.decode() for m, _ in inflight])
    return {
        "mode": "sleep" if mode == b"sleep" else "awake",
        "heartbeat_age_s": round(now - float(beat), 1) if beat else None,
        "alive": beat is not None
        and now - float(beat) < rt.settings.gateway.heartbeat_stale_seconds,
        "telegram_configured": bool(rt.settings.telegram.token),
        "depth": {f"p{p}": int(tiers_raw[2 * i]) for i, p in enumerate(PRIORITIES)}
        | {"inflight": int(inflight_n), "dead": int(dead_n), "batched": int(batch_n)},
        "waiting": {tier: [_message(bodies.get(m), m, queued_ms=s, now=now) for m, s in items]
                    for tier, items in waiting.items()},
        "inflight": [_message(bodies.get(m.decode()), m.decode(), lease_ms=s, now=now)
                     for m, s in inflight],
        "dead": [_loose(raw) for raw in dead],
        "batched": [_loose(raw) for raw in batch],
        "stats": {k.decode(): int(v) for k, v in stats.items()},
        "last_turn": json.loads(last_turn) if last_turn else None,
        "agent_failures": int(failures or 0),
        "deliveries": last_deliveries(rt, peek),
        "clock_offset_s": offset,
    }


def _bodies(rt: Bus, ids: list[str]) -> dict[str, bytes]:
    if not ids:
        return {}
    return {i: b for i, b in zip(ids, rt.redis.hmget(keys.GW_MSGS, ids), strict=True) if b}


def _message(body: bytes | None, msg_id: str, *, now: float, queued_ms: float | None = None,
             lease_ms: float | None = None) -> dict[str, Any]:
    if body is None:
        return {"id": msg_id, "missing": True}
    msg = Message.from_json(msg_id, body)
    view: dict[str, Any] = {
        "id": msg.id, "source": msg.source, "kind": msg.kind, "priority": msg.p,
        "prompt": msg.prompt[:PROMPT_PREVIEW], "truncated": len(msg.prompt) > PROMPT_PREVIEW,
        "type": msg.meta.get("type") or msg.meta.get("event"), "age_s":
        round(now - msg.ts / 1000, 1)}
    if queued_ms is not None:  # waiting: the tier the queue's rules give it now
        age_ms = now * 1000 - msg.ts
        view["effective_priority"] = msg.p - 1 if msg.p >= P2 and age_ms >= AGE_MS else msg.p
        view["auto_ack_due"] = msg.p == P3 and age_ms >= P3_TTL_MS
    if lease_ms is not None:
        view["lease_expires_in_s"] = round(lease_ms / 1000 - now, 1)
    return view


def _loose(raw: bytes) -> dict[str, Any]:
    """Dead letters and digest entries are JSON objects of a few shapes; show what they hold."""
    try:
        data = json.loads(raw)
    except ValueError:
        return {"text": raw.decode("utf-8", "replace")[:PROMPT_PREVIEW]}
    if not isinstance(data, dict):
        return {"text": str(data)[:PROMPT_PREVIEW]}
    text = data.get("prompt") or data.get("text") or ""
    return {"type": data.get("type") or (data.get("meta") or {}).get("type"),
            "source": data.get("source"), "text": str(text)[:PROMPT_PREVIEW],
            "at": data.get("at") or (data["ts"] / 1000 if isinstance(data.get("ts"), int | float)
                                     else None)}


def last_deliveries(rt: Bus, limit: int) -> list[dict[str, Any]]:
    """The latest messages the drain handled (newest first), as it recorded them."""
    return [_delivery(raw) for raw in rt.redis.lrange(keys.GW_DELIVERED, 0, limit - 1)]


def _delivery(raw: bytes) -> dict[str, Any]:
    try:
        entry = json.loads(raw)
    except ValueError:
        return {"text": raw.decode("utf-8", "replace")[:PROMPT_PREVIEW]}
    return entry if isinstance(entry, dict) else {"text": str(entry)[:PROMPT_PREVIEW]}
