"""Proposals staged in Redis (reference §5.4): `p-YYYYMMDD-NNN`, one hash each, the pending list
and the batch-review queue. A decided proposal keeps its hash (status promoted / rejected /
expired / merged) for 30 days, so a second approval is recognised instead of applied twice."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from joelclaw import keys
from joelclaw.errors import JoelclawError

if TYPE_CHECKING:
    import redis

Status = Literal["pending", "llm-pending", "needs-review", "promoted", "rejected", "expired",
                 "merged"]
OPEN = ("pending", "llm-pending", "needs-review")


class ProposalNotFound(JoelclawError):
    code = "PROPOSAL_NOT_FOUND"


class Proposal(BaseModel):
    id: str
    date: str
    section: str
    change: str
    status: Status = "pending"
    captured_at: float
    source: str = "reflect"
    triage_action: str | None = None
    triage_reason: str | None = None
    merge_with: str | None = None
    todoist_task_id: str | None = None
    decided_at: float | None = None
    decided_by: str | None = None
    decision_reason: str | None = None

    @property
    def open(self) -> bool:
        return self.status in OPEN

    def age_days(self, now: float | None = None) -> float:
        return ((now or time.time()) - self.captured_at) / 86400


class ProposalStore:
    def __init__(self, client: redis.Redis) -> None:
        self.r = client

    def create(self, section: str, change: str, *, source: str = "reflect",
               now: float | None = None) -> Proposal:
        stamp = now if now is not None else time.time()
        day = datetime.fromtimestamp(stamp, UTC).strftime("%Y%m%d")
        seq_key = keys.memory_proposal_seq(day)
        number = int(self.r.incr(seq_key))
        self.r.expire(seq_key, keys.MEMORY_PROPOSAL_SEQ_TTL)
        proposal = Proposal(id=f"p-{day}-{number:03d}", date=f"{day[:4]}-{day[4:6]}-{day[6:]}",
                            section=section, change=change, captured_at=stamp, source=source)
        pipe = self.r.pipeline(transaction=True)
        pipe.hset(keys.memory_proposal(proposal.id), mapping=_flat(proposal))
        pipe.rpush(keys.MEMORY_PENDING, proposal.id)
        pipe.execute()
        return proposal

    def get(self, proposal_id: str) -> Proposal | None:
        raw = self.r.hgetall(keys.memory_proposal(proposal_id))
        if not raw:
            return None
        data = {k.decode(): json.loads(v) for k, v in raw.items()}
        return Proposal.model_validate(data)

    def require(self, proposal_id: str) -> Proposal:
        found = self.get(proposal_id)
        if found is None:
            raise ProposalNotFound(f"no proposal {proposal_id!r}: it never existed or was "
                                   "decided more than 30 days ago (see `joelclaw review list`)")
        return found

    def update(self, proposal_id: str, **fields: Any) -> Proposal:
        current = self.require(proposal_id)
        updated = current.model_copy(update=fields)
        Proposal.model_validate(updated.model_dump())
        self.r.hset(keys.memory_proposal(proposal_id), mapping=_flat(updated, only=set(fields)))
        return updated

    def pending(self) -> list[Proposal]:
        return self._many(self.r.lrange(keys.MEMORY_PENDING, 0, -1))

    def llm_pending(self) -> list[Proposal]:
        return self._many(self.r.lrange(keys.MEMORY_LLM_PENDING, 0, -1))

    def queue_for_llm(self, proposal_id: str) -> None:
        pipe = self.r.pipeline(transaction=True)
        pipe.lrem(keys.MEMORY_LLM_PENDING, 0, proposal_id)
        pipe.rpush(keys.MEMORY_LLM_PENDING, proposal_id)
        pipe.execute()
        self.update(proposal_id, status="llm-pending")

    def unqueue_llm(self, proposal_id: str) -> None:
        self.r.lrem(keys.MEMORY_LLM_PENDING, 0, proposal_id)

    def finish(self, proposal_id: str, status: Status, *, by: str, reason: str = "",
               now: float | None = None) -> Proposal:
        """Close a proposal: off both lists, its hash kept 30 days with the decision."""
        updated = self.update(proposal_id, status=status, decided_by=by, decision_reason=reason,
                              decided_at=now if now is not None else time.time())
        pipe = self.r.pipeline(transaction=True)
        pipe.lrem(keys.MEMORY_PENDING, 0, proposal_id)
        pipe.lrem(keys.MEMORY_LLM_PENDING, 0, proposal_id)
        pipe.expire(keys.memory_proposal(proposal_id), keys.MEMORY_PROPOSAL_KEEP_TTL)
        pipe.execute()
        return updated

    def _many(self, ids: list[bytes]) -> list[Proposal]:
        found = [self.get(i.decode()) for i in ids]
        return [p for p in found if p is not None]


def _flat(proposal: Proposal, only: set[str] | None = None) -> dict[str, str]:
    data = proposal.model_dump()
    return {k: json.dumps(v) for k, v in data.items() if only is None or k in only}
