"""The decisions on a proposal, whoever makes them (Todoist, Telegram, the CLI, the batch LLM
review, expiry): promote into MEMORY.md, reject, expire. Each runs under the proposal's lock and
checks its status first, so a duplicate approval is answered ("already promoted"), never
appended twice, and a crash between the MEMORY.md write and the status change is repaired by
running it again (the bullet is found in place and not written a second time)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from joelclaw import keys
from joelclaw.coordination.locks import Lock
from joelclaw.errors import JoelclawError
from joelclaw.integrations.http import IntegrationError
from joelclaw.memory.proposals import Proposal
from joelclaw.memory.service import Memory

log = logging.getLogger("joelclaw.memory.decide")


class ProposalClosed(JoelclawError):
    """The proposal was already decided another way (rejected, expired, merged)."""

    code = "PROPOSAL_CLOSED"


def _today(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def _lock(mem: Memory, proposal_id: str) -> Lock:
    return Lock(mem.redis, keys.memory_proposal_lock(proposal_id), keys.MEMORY_PROPOSAL_LOCK_TTL)


def approve(mem: Memory, proposal_id: str, *, by: str, now: float | None = None,
            close_task: bool = True) -> dict[str, Any]:
    stamp = now if now is not None else time.time()
    with _lock(mem, proposal_id):
        proposal = mem.proposals.require(proposal_id)
        if proposal.status == "promoted":
            return {"id": proposal_id, "status": "already-promoted",
                    "by": proposal.decided_by, "section": proposal.section}
        if not proposal.open:
            raise ProposalClosed(f"{proposal_id} cannot be approved: it was {proposal.status} "
                                 f"by {proposal.decided_by or 'the system'}")
        appended = mem.memory_file.append(proposal.section, proposal.change, _today(stamp))
        mem.proposals.finish(proposal_id, "promoted", by=by, now=stamp)
        mem.daily.append_once(_today(stamp), f"promoted:{proposal_id}",
                              f"### ✅ Promoted\n- {proposal_id} ({proposal.section}, by {by}): "
                              f"{proposal.change}")
    if close_task:
        _close_task(mem, proposal)
    return {"id": proposal_id, "status": "promoted", "by": by, "section": proposal.section,
            "appended": appended, "memory_file": str(mem.memory_file.path)}


def reject(mem: Memory, proposal_id: str, *, by: str, reason: str = "",
           now: float | None = None, close_task: bool = True,
           status: str = "rejected") -> dict[str, Any]:
    stamp = now if now is not None else time.time()
    title = "Expired Proposals" if status == "expired" else "Rejected Proposals"
    with _lock(mem, proposal_id):
        proposal = mem.proposals.require(proposal_id)
        if proposal.status in ("rejected", "expired", "merged"):
            return {"id": proposal_id, "status": f"already-{proposal.status}"}
        if proposal.status == "promoted":
            raise ProposalClosed(f"{proposal_id} was already promoted to MEMORY.md by "
                                 f"{proposal.decided_by}; edit MEMORY.md to undo it")
        mem.daily.append_once(_today(stamp), f"{status}:{proposal_id}",
                              f"### {title}\n- {proposal_id} ({proposal.section}, by {by}"
                              f"{': ' + reason if reason else ''}): {proposal.change}")
        mem.proposals.finish(proposal_id, status,  # type: ignore[arg-type]  # approved | rejected
                             by=by, reason=reason, now=stamp)
    if close_task:
        _close_task(mem, proposal)
    return {"id": proposal_id, "status": status, "by": by, "reason": reason}


def expire(mem: Memory, *, now: float | None = None) -> list[str]:
    """Proposals older than JOELCLAW_MEMORY_PROPOSAL_TTL_DAYS, archived as expired."""
    stamp = now if now is not None else time.time()
    limit = mem.settings.memory.proposal_ttl_days
    done = []
    for proposal in mem.proposals.pending():
        if proposal.open and proposal.age_days(stamp) >= limit:
            reject(mem, proposal.id, by="expiry", reason=f"older than {limit:g} days",
                   now=stamp, status="expired")
            done.append(proposal.id)
    return done


def approve_all(mem: Memory, *, by: str, now: float | None = None) -> list[dict[str, Any]]:
    return [approve(mem, p.id, by=by, now=now) for p in mem.proposals.pending() if p.open]


def merge_into(mem: Memory, source: Proposal, target_id: str, text: str,
               now: float | None = None) -> None:
    """Triage rule 5: the longer text goes to the target, the source is closed as merged."""
    with _lock(mem, target_id):
        target = mem.proposals.require(target_id)
        if target.open:
            mem.proposals.update(target_id, change=text)
    mem.proposals.finish(source.id, "merged", by="triage", reason=f"merged into {target_id}",
                         now=now)


def _close_task(mem: Memory, proposal: Proposal) -> None:
    """The Todoist review task is done once the proposal is decided (its echo suppressed)."""
    if not proposal.todoist_task_id:
        return
    client = mem.todoist()
    if client is None:
        return
    try:
        client.complete_task(proposal.todoist_task_id)
    except IntegrationError as exc:  # already closed or deleted by the owner: nothing to do
        log.info("review task %s not closed: %s", proposal.todoist_task_id, exc)
    finally:
        client.close()
