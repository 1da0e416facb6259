"""The gateway's durable priority queue (ADR-0104), on Redis.

Priorities P0 (the owner, callbacks, fatal alerts) to P3 (probes). A waiting P2/P3 is promoted one
tier after 5 minutes; after 3 consecutive P0 picks a waiting lower message goes next; P3s are
coalesced into one "N probe events suppressed" (a probe first settles 5 s, so a burst becomes
one message) and auto-acknowledged after 60 s unclaimed;
identical notification content within 30 s is dropped.

Durability: a claim moves the message to an in-flight set with a lease deadline, and only `ack`
deletes it. A gateway that dies mid-turn leaves its claim to expire, and the next claim puts the
message back in its tier (acknowledged never replayed) if it is at most 10 minutes old, as the
old gateway's restart replay did; an older one is moved to the dead list (`too_old_to_replay`),
not answered hours late and not silently lost; each claim
records its holder (joelclaw.gateway.holders), so the claims of a holder whose process is gone
on this host are replayed at once (`reclaim_dead`). A message claimed `max_attempts` times
without an ack is moved to a dead list instead of looping forever.
The clock is injectable so the time rules are tested without waiting: the gateway's is
`joelclaw.gateway.clock.Clock`, real time plus an offset set in Redis (`joelclaw gateway clock`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.gateway import holders, scripts

if TYPE_CHECKING:
    import redis

P0, P1, P2, P3 = 0, 1, 2, 3
P3_TTL_MS = 60_000
AGE_MS = 5 * 60_000
STREAK_LIMIT = 3
MAX_COALESCE = 20_000
P3_SETTLE_MS = 5_000  # a probe burst within 5 s becomes one "N probe events suppressed"
# ADR-0104's P1 rule, plus `deploy.error` (the old rule missed vercel.deploy.error, §9.4).
_P1 = re.compile(r"deploy\.failed|deploy\.error|friction-fix|function\.failed")
_P3 = re.compile(r"test\.|media\.processed|probe")


def classify(source: str, meta: dict[str, Any] | None = None) -> int:
    """ADR-0104 classification from the source and the event hints in `meta`."""
    if source.startswith("telegram:") or source == "callback_query":
        return P0
    hints = " ".join(_hints(meta or {}))
    if _P1.search(hints):
        return P1
    if _P3.search(hints):
        return P3
    return P2


def _hints(meta: dict[str, Any]) -> list[str]:
    found = [str(meta[k]) for k in ("event", "eventType", "type") if meta.get(k)]
    found += [str(t) for t in meta.get("eventTypes") or []]
    found += [str(t) for t in (meta.get("digestTypes") or {})]
    return found


@dataclass
class Message:
    """One queued message; `eff` is its priority after aging when it was claimed."""

    id: str
    source: str
    prompt: str
    kind: str
    p: int
    ts: int
    meta: dict[str, Any] = field(default_factory=dict)
    chat: int | None = None
    mk: str | None = None
    eff: int | None = None

    @classmethod
    def from_json(cls, msg_id: str | bytes, body: str | bytes, eff: int | None = None) -> Message:
        data = json.loads(body)
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        return cls(id=_s(msg_id), source=data["source"], prompt=data.get("prompt", ""),
                   kind=data.get("kind", "notify"), p=int(data["p"]), ts=int(data["ts"]),
                   meta=meta, chat=data.get("chat"), mk=data.get("mk"), eff=eff)


def _s(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class MessageQueue:
    """Enqueue, claim, extend, ack. Safe for several gateway processes at once."""

    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] = time.time,
                 lease_seconds: float = 30.0, max_attempts: int = 3,
                 holder: str | None = None):
        self.redis, self.clock = client, clock
        self.holder = holder or holders.new_token()  # recorded with each claim
        self.lease_ms = int(lease_seconds * 1000)
        self.max_attempts = max_attempts
        self._enqueue = client.register_script(scripts.ENQUEUE)
        self._claim = client.register_script(scripts.CLAIM)
        self._more = client.register_script(scripts.CLAIM_MORE)
        self._ack = client.register_script(scripts.ACK)
        self._release = client.register_script(scripts.RELEASE)
        self._held = client.register_script(scripts.TAKE_HELD)
        self._reclaim = client.register_script(scripts.RECLAIM)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def enqueue(self, source: str, prompt: str, *, kind: str = "notify",
                priority: int | None = None, meta: dict[str, Any] | None = None,
                chat: int | None = None, merge_key: str | None = None, dedup: bool = True,
                idem_key: str | None = None, idem_ttl: int = 86400) -> str | None:
        """The new message id, or None when it is a duplicate (content or idempotency key)."""
        p = classify(source, meta) if priority is None else max(P0, min(P3, priority))
        now = self.now_ms()
        body = json.dumps({"source": source, "prompt": prompt, "kind": kind, "p": p, "ts": now,
                           "meta": meta or {}, "chat": chat, "mk": merge_key})
        digest = hashlib.sha256(f"{source}\n{prompt[:100]}".encode()).hexdigest()
        added, value = self._enqueue(
            keys=[keys.gw_queue(p), keys.GW_MSGS, keys.GW_SEQ, keys.gw_dedup(digest),
                  keys.gw_idempotency(idem_key or "-")],
            args=[body, now, keys.GW_DEDUP_TTL_MS if dedup else 0, idem_ttl if idem_key else 0])
        if not added:
            self.redis.hincrby(keys.GW_STATS, "deduplicated", 1)
            return None
        return _s(value)

    def claim(self, *, sleeping: bool = False) -> Message | None:
        """The next message by the ADR-0104 rules, now in flight under a lease; or None."""
        got = self._claim(
            keys=[*(keys.gw_queue(p) for p in range(4)), keys.GW_MSGS, keys.GW_INFLIGHT,
                  keys.GW_ATTEMPTS,
                  keys.GW_STREAK, keys.GW_DEAD, keys.GW_STATS, keys.GW_CLAIM_HOLDERS],
            args=[self.now_ms(), self.lease_ms, "1" if sleeping else "0", P3_TTL_MS, AGE_MS,
                  MAX_COALESCE, self.max_attempts, STREAK_LIMIT, P3_SETTLE_MS, self.holder,
                  keys.GW_REPLAY_WINDOW_MS])
        if not got:
            return None
        return Message.from_json(got[0], got[1], eff=int(got[2]))

    def claim_more(self, merge_key: str, limit: int = 12) -> list[Message]:
        """Claim the P0 messages waiting at the head with the same merge key (rapid messages)."""
        got = self._more(keys=[keys.gw_queue(P0), keys.GW_MSGS, keys.GW_INFLIGHT, keys.GW_ATTEMPTS,
                               keys.GW_CLAIM_HOLDERS],
                         args=[merge_key, self.now_ms(), self.lease_ms, limit, self.holder])
        return [Message.from_json(got[i], got[i + 1], eff=P0) for i in range(0, len(got), 2)]

    def extend(self, ids: list[str]) -> None:
        """Push the claim deadline out while a long turn is still running."""
        deadline = self.now_ms() + self.lease_ms
        self.redis.zadd(keys.GW_INFLIGHT, dict.fromkeys(ids, deadline), xx=True)

    def ack(self, ids: list[str]) -> int:
        if not ids:
            return 0
        return int(self._ack(keys=[keys.GW_INFLIGHT, keys.GW_MSGS, keys.GW_ATTEMPTS,
                                   keys.GW_CLAIM_HOLDERS], args=ids))

    def release(self, message: Message) -> bool:
        """Give a claim back untouched (e.g. the chat is locked by another gateway)."""
        return bool(self._release(keys=[keys.GW_INFLIGHT, keys.GW_MSGS, keys.GW_ATTEMPTS,
                                        keys.gw_queue(message.p), keys.GW_CLAIM_HOLDERS],
                                  args=[message.id]))

    def reclaim_dead(self) -> int:
        """Expire at once the claims of holders whose process is gone on this host (a
        SIGKILLed gateway): the next claim replays them instead of waiting out the lease."""
        held = self.redis.hgetall(keys.GW_CLAIM_HOLDERS)
        dead = [item for msg_id, holder in held.items() if holders.gone(holder)
                for item in (msg_id, holder)]
        if not dead:
            return 0
        return int(self._reclaim(keys=[keys.GW_INFLIGHT, keys.GW_CLAIM_HOLDERS], args=dead))

    def take_held(self, limit: int = 1000) -> list[Message]:
        """Remove and return every waiting P1-P3 message (the wake-up flush)."""
        bodies = self._held(keys=[*(keys.gw_queue(p) for p in (1, 2, 3)), keys.GW_MSGS,
                                  keys.GW_ATTEMPTS],
                            args=[limit])
        return [Message.from_json("0", body) for body in bodies]

    def ready_count(self) -> int:
        pipe = self.redis.pipeline(transaction=False)
        for p in range(4):
            pipe.zcard(keys.gw_queue(p))
        return sum(pipe.execute())

    def depth(self) -> dict[str, int]:
        pipe = self.redis.pipeline(transaction=False)
        for p in range(4):
            pipe.zcard(keys.gw_queue(p))
        pipe.zcard(keys.GW_INFLIGHT)
        pipe.zcount(keys.GW_INFLIGHT, "-inf", self.now_ms())
        pipe.llen(keys.GW_DEAD)
        pipe.llen(keys.GW_BATCH)
        *tiers, inflight, expired, dead, batch = pipe.execute()
        out = {f"p{p}": int(n) for p, n in enumerate(tiers)}
        out.update(inflight=int(inflight), expired=int(expired), dead=int(dead),
                   batched=int(batch))
        return out

    # ---- dead letters: the owner retries or drops them (dashboard, needs-me) ------------------

    def dead_letters(self, limit: int = 50) -> list[tuple[str, dict[str, Any]]]:
        """(id, body) of the dead messages, oldest first; the id is a digest of the body."""
        out = []
        for raw in self.redis.lrange(keys.GW_DEAD, 0, limit - 1):
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"prompt": _s(raw)}
            out.append((_digest(raw), body if isinstance(body, dict) else {"prompt": str(body)}))
        return out

    def retry_dead(self, letter_id: str) -> str | None:
        """Queue a dead message again (a fresh message, same text and priority); KeyError when
        no dead message has that id (retried or dropped already)."""
        raw, body = self._dead(letter_id)
        if not self.redis.lrem(keys.GW_DEAD, 1, raw):
            raise KeyError(letter_id)
        return self.enqueue(str(body.get("source") or "gateway"), str(body.get("prompt") or ""),
                            kind=str(body.get("kind") or "notify"), priority=body.get("p"),
                            meta=body.get("meta") or {}, chat=body.get("chat"), dedup=False)

    def drop_dead(self, letter_id: str) -> None:
        raw, _ = self._dead(letter_id)
        if not self.redis.lrem(keys.GW_DEAD, 1, raw):
            raise KeyError(letter_id)

    def _dead(self, letter_id: str) -> tuple[bytes, dict[str, Any]]:
        for raw in self.redis.lrange(keys.GW_DEAD, 0, -1):
            if _digest(raw) == letter_id:
                body = json.loads(raw) if raw.startswith(b"{") else {"prompt": _s(raw)}
                return raw, body
        raise KeyError(letter_id)


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]
