"""The owner's approvals of agent operations, in Redis (keys in joelclaw.keys): pending
requests, the resolution history, and the learned categories an agent may do unasked.

Resolving is a claim: the first resolution of a pending request removes it (HDEL), so a second
button press, a CLI approve after the timeout, or a duplicate event changes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.insight.links import needs_url

if TYPE_CHECKING:
    import redis

    from joelclaw.config import Settings

ACTIONS = {"approve": ("approved", False), "deny": ("denied", False), "learn": ("approved", True)}


@dataclass
class Approvals:
    redis: redis.Redis

    # -- requests -----------------------------------------------------------------------------

    def submit(self, request_id: str, agent: str, category: str, operation: str,
               reasoning: str, *, run_id: str | None = None) -> dict[str, Any]:
        """Store a pending request (kept as first stored when submitted twice)."""
        record = {"request_id": request_id, "agent": agent, "category": category,
                  "operation": operation, "reasoning": reasoning, "run_id": run_id,
                  "requested_at": time.time()}
        if not self.redis.hsetnx(keys.APPROVALS_PENDING, request_id, json.dumps(record)):
            return self.get(request_id) or record
        return record

    def get(self, request_id: str) -> dict[str, Any] | None:
        raw = self.redis.hget(keys.APPROVALS_PENDING, request_id)
        return json.loads(raw) if raw else None

    def pending(self) -> list[dict[str, Any]]:
        found = [json.loads(v) for v in self.redis.hvals(keys.APPROVALS_PENDING)]
        return sorted(found, key=lambda r: r.get("requested_at") or 0)

    def resolve(self, request_id: str, status: str, reviewer: str, *, learn: bool = False,
                reason: str | None = None) -> dict[str, Any] | None:
        """Claim and resolve a pending request; None when it is not pending (any more)."""
        raw = self.redis.hget(keys.APPROVALS_PENDING, request_id)
        if raw is None or not self.redis.hdel(keys.APPROVALS_PENDING, request_id):
            return None
        record = json.loads(raw)
        resolved = {**record, "status": status, "reviewer": reviewer, "learn": learn,
                    "reason": reason, "resolved_at": time.time()}
        pipe = self.redis.pipeline(transaction=True)
        pipe.lpush(keys.APPROVALS_HISTORY, json.dumps(resolved))
        pipe.ltrim(keys.APPROVALS_HISTORY, 0, keys.APPROVALS_HISTORY_KEEP - 1)
        pipe.execute()
        if learn and status == "approved":
            self.learn(record["agent"], record["category"], by=reviewer)
        return resolved

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        return [json.loads(v) for v in self.redis.lrange(keys.APPROVALS_HISTORY, 0, limit - 1)]

    # -- learned categories ----------------------------------------------------------------------

    def learn(self, agent: str, category: str, *, by: str) -> None:
        self.redis.hset(keys.APPROVALS_CATEGORIES, json.dumps([agent, category]),
                        json.dumps({"at": time.time(), "by": by}))

    def forget(self, agent: str, category: str) -> bool:
        return bool(self.redis.hdel(keys.APPROVALS_CATEGORIES, json.dumps([agent, category])))

    def learned(self, agent: str, category: str) -> bool:
        return bool(self.redis.hexists(keys.APPROVALS_CATEGORIES, json.dumps([agent, category])))

    def categories(self) -> list[dict[str, Any]]:
        out = []
        for field, value in self.redis.hgetall(keys.APPROVALS_CATEGORIES).items():
            agent, category = json.loads(field)
            out.append({"agent": agent, "category": category, **json.loads(value)})
        return sorted(out, key=lambda c: (c["agent"], c["category"]))


def parse_button(context: str) -> tuple[str, str, bool] | None:
    """`<request id>:<approve|deny|learn>` (the part after `apr:`) as (id, status, learn)."""
    request_id, _, verb = context.rpartition(":")
    if not request_id or verb not in ACTIONS:
        return None
    status, learn = ACTIONS[verb]
    return request_id, status, learn


def buttons(request_id: str) -> list[list[tuple[str, str]]]:
    """Approve / Deny, and Approve + learn the category (callback data `apr:<id>:<verb>`)."""
    return [[("✅ Approve", f"apr:{request_id}:approve"), ("❌ Deny", f"apr:{request_id}:deny")],
            [("🧠 Approve + always allow", f"apr:{request_id}:learn")]]


def request_text(settings: Settings, request_id: str, agent: str, operation: str,
                 category: str, reasoning: str | None) -> str:
    """What the owner reads when asked to approve (a link to the needs-me page when the
    dashboard has a public address)."""
    url = needs_url(settings)
    return "\n".join(filter(None, [
        f"🔐 **Approval needed**: {agent} wants to {operation}",
        f"Category: `{category}`", reasoning and f"Why: {reasoning}",
        f"Request `{request_id}`", url and f"[Open]({url})"]))
