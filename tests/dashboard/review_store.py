"""A small review queue in Redis with the dashboard's `ReviewQueue` interface, standing in for
the memory package until it lands (JOELCLAW_MEMORY_REVIEW_PROVIDER points here in tests).

It keeps proposals the way the old system did (`memory:review:pending` list + one hash per
proposal), so it doubles as an example of what the memory side must provide."""

from __future__ import annotations

import time

from joelclaw.insight.review import Proposal, ReviewQueue
from joelclaw.runtime import Runtime

PENDING = "jc:test:memory:review:pending"


def proposal_key(proposal_id: str) -> str:
    return f"jc:test:memory:review:proposal:{proposal_id}"


def add(rt: Runtime, proposal_id: str, change: str, section: str = "Patterns") -> None:
    rt.redis.hset(proposal_key(proposal_id), mapping={
        "id": proposal_id, "change": change, "section": section, "status": "pending",
        "captured_at": time.time(), "source": "test"})
    rt.redis.rpush(PENDING, proposal_id)


def status(rt: Runtime, proposal_id: str) -> str | None:
    raw = rt.redis.hget(proposal_key(proposal_id), "status")
    return raw.decode() if raw else None


def review_queue(rt: Runtime) -> ReviewQueue:
    def pending(limit: int) -> list[Proposal]:
        out = []
        for raw_id in rt.redis.lrange(PENDING, 0, limit - 1):
            data = {k.decode(): v.decode() for k, v in
                    rt.redis.hgetall(proposal_key(raw_id.decode())).items()}
            out.append(Proposal(id=data["id"], change=data["change"], section=data["section"],
                                captured_at=float(data["captured_at"]), source=data["source"]))
        return out

    def decide(proposal_id: str, verdict: str) -> str:
        current = status(rt, proposal_id)
        if current is None:
            raise KeyError(proposal_id)
        if current != "pending":
            raise ValueError(f"proposal {proposal_id} is already {current}")
        rt.redis.hset(proposal_key(proposal_id), "status", verdict)
        rt.redis.lrem(PENDING, 0, proposal_id)
        return verdict

    return ReviewQueue(pending=pending, approve=lambda pid: decide(pid, "approved"),
                       reject=lambda pid, reason: decide(pid, "rejected"))
