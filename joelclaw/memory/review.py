"""Applying triage, the batch LLM review of `llm-pending`, the owner's review task, the nudge,
and the dashboard's review queue (`review_queue`, the JOELCLAW_MEMORY_REVIEW_PROVIDER default).

The batch review asks the one LLM client for JSON decisions:

    {"decisions": [{"id": "p-20261201-001", "decision": "promote|reject|needs-review",
                    "reason": "..."}]}

A proposal the reply does not mention stays queued for the next batch; a reply that is not that
JSON is a ReviewReplyError (the step retries). `needs-review` hands it to the owner.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from joelclaw.errors import JoelclawError
from joelclaw.memory import decide
from joelclaw.memory.plugin import memory_of
from joelclaw.memory.proposals import Proposal, ProposalNotFound
from joelclaw.memory.service import Memory
from joelclaw.memory.triage import Decision, triage

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.insight.review import ReviewQueue

REVIEW_LABELS = ("memory-review", "agent")
NUDGE_LIMIT = 5
REVIEW_SYSTEM = """You review proposed additions to an AI assistant's long-term memory file \
(MEMORY.md). For each proposal decide: promote (durable, specific, true, not already there), \
reject (vague, wrong, duplicate or an instruction rather than a fact) or needs-review (only the \
owner can tell). Answer ONLY with JSON: {"decisions": [{"id": "<proposal id>", "decision": \
"promote|reject|needs-review", "reason": "<short>"}]}"""
DECISIONS = ("promote", "reject", "needs-review")


class ReviewReplyError(JoelclawError):
    code = "REVIEW_REPLY"


def apply_triage(mem: Memory, proposal_id: str, now: float | None = None) -> dict[str, Any]:
    """Triage one proposal by the rules and act on the outcome; safe to run again."""
    proposal = mem.proposals.require(proposal_id)
    if not proposal.open:
        return {"id": proposal_id, "action": "none", "reason": f"already {proposal.status}"}
    if proposal.triage_action:  # decided before a retry: finish what it started
        decision = Decision(proposal.triage_action,  # type: ignore[arg-type]  # stored from an Action
                            proposal.triage_reason or "", 0,
                            proposal.merge_with)
    else:
        others = [p for p in mem.proposals.pending() if p.id != proposal_id]
        decision = triage(proposal, mem.memory_file.bullets(), others)
        mem.proposals.update(proposal_id, triage_action=decision.action,
                             triage_reason=decision.reason, merge_with=decision.merge_with)
    if decision.action == "auto-reject":
        decide.reject(mem, proposal_id, by="triage", reason=decision.reason, now=now,
                      close_task=False)
    elif decision.action == "auto-merge" and decision.merge_with:
        decide.merge_into(mem, proposal, decision.merge_with, proposal.change, now=now)
    elif decision.action == "llm-pending":
        mem.proposals.queue_for_llm(proposal_id)
    else:
        mem.proposals.update(proposal_id, status="needs-review")
        create_review_task(mem, mem.proposals.require(proposal_id))
    return {"id": proposal_id, "action": decision.action, "reason": decision.reason,
            "rule": decision.rule, "merge_with": decision.merge_with}


def create_review_task(mem: Memory, proposal: Proposal) -> str | None:
    """The owner's Todoist task: complete = approve; label `rejected` or delete = reject."""
    if proposal.todoist_task_id:
        return proposal.todoist_task_id
    client = mem.todoist()
    if client is None:
        return None
    summary = " ".join(proposal.change.split())
    try:
        task = client.create_task(
            f"Memory: {proposal.section} ({proposal.id}) — {summary[:80]}",
            description=f"Proposal: {proposal.id}\n\n{proposal.change}\n\nComplete this task to "
                        "approve it; add the label `rejected` (then complete) or delete it to "
                        "reject it.",
            labels=list(REVIEW_LABELS), project_id=mem.settings.memory.todoist_project_id,
            priority=4, due_string="today")
    finally:
        client.close()
    mem.proposals.update(proposal.id, todoist_task_id=str(task["id"]))
    return str(task["id"])


def review_prompt(proposals: list[Proposal], memory_text: str) -> str:
    listed = "\n".join(f"- {p.id} [{p.section}]: {p.change}" for p in proposals)
    return f"MEMORY.md now:\n{memory_text[-40000:]}\n\nProposals:\n{listed}"


def parse_decisions(reply: str) -> list[dict[str, str]]:
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", (reply or "").strip())
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    try:
        data = json.loads(text[start:]) if start >= 0 else None
    except json.JSONDecodeError:
        data = _first_json(text[start:])
    items = data.get("decisions") if isinstance(data, dict) else data
    if not isinstance(items, list):
        shown = " ".join((reply or "").split())[:200]
        raise ReviewReplyError(f"the review reply is not decisions JSON: {shown!r}")
    out = []
    for item in items:
        if isinstance(item, dict) and item.get("decision") in DECISIONS and item.get("id"):
            out.append({"id": str(item["id"]), "decision": str(item["decision"]),
                        "reason": str(item.get("reason") or "")})
    return out


def _first_json(text: str) -> Any:
    try:
        return json.JSONDecoder().raw_decode(text)[0]
    except (json.JSONDecodeError, ValueError):
        return None


def batch_review(mem: Memory, now: float | None = None) -> dict[str, Any]:
    queued = [p for p in mem.proposals.llm_pending() if p.open]
    if not queued:
        return {"reviewed": 0, "decisions": []}
    llm = mem.llm(purpose="the memory batch review")
    try:
        reply = llm.complete([{"role": "system", "content": REVIEW_SYSTEM},
                              {"role": "user", "content": review_prompt(
                                  queued, mem.memory_file.read())}])
    finally:
        llm.close()
    wanted = {p.id for p in queued}
    applied = []
    for item in parse_decisions(reply):
        if item["id"] not in wanted:
            continue
        wanted.discard(item["id"])
        if item["decision"] == "promote":
            decide.approve(mem, item["id"], by="llm-review", now=now)
        elif item["decision"] == "reject":
            decide.reject(mem, item["id"], by="llm-review", reason=item["reason"], now=now)
        else:
            mem.proposals.unqueue_llm(item["id"])
            mem.proposals.update(item["id"], status="needs-review")
            create_review_task(mem, mem.proposals.require(item["id"]))
        applied.append(item)
    return {"reviewed": len(applied), "decisions": applied, "still_queued": sorted(wanted)}


def nudge(mem: Memory, now: float | None = None) -> dict[str, Any] | None:
    """The owner's reminder: proposals waiting for them, with approve/reject buttons each."""
    waiting = [p for p in mem.proposals.pending() if p.status == "needs-review"]
    if not waiting:
        return None
    stamp = now if now is not None else time.time()
    lines = [f"🧠 **{len(waiting)} memory proposal(s) wait for your review**", ""]
    buttons = []
    for p in waiting[:NUDGE_LIMIT]:
        lines.append(f"- `{p.id}` {p.section}: {p.change[:160]} "
                     f"({p.age_days(stamp):.0f} d old)")
        buttons.append([[f"✅ {p.id}", f"memory:approve:{p.id}"],
                        [f"❌ {p.id}", f"memory:reject:{p.id}"]])
    if len(waiting) > NUDGE_LIMIT:
        lines.append(f"… and {len(waiting) - NUDGE_LIMIT} more: `joelclaw review list`")
    return {"text": "\n".join(lines), "buttons": buttons, "count": len(waiting)}


def review_queue(bus: Bus) -> ReviewQueue:
    """The open proposals as the dashboard shows them, decided through the same code as the CLI
    (joelclaw.memory.decide): an unknown id is a KeyError, a decided one a ValueError."""
    from joelclaw.insight.review import Proposal as Shown
    from joelclaw.insight.review import ReviewQueue

    mem = memory_of(bus)

    def pending(limit: int) -> list[Shown]:
        return [Shown(id=p.id, change=p.change, section=p.section, status=p.status,
                      captured_at=p.captured_at, source=p.source,
                      details={"triage": p.triage_reason, "todoist_task_id": p.todoist_task_id})
                for p in mem.proposals.pending() if p.open][:limit]

    def decided(proposal_id: str, verdict: str, reason: str | None = None) -> str:
        try:
            if verdict == "approve":
                result = decide.approve(mem, proposal_id, by="dashboard")
            else:
                result = decide.reject(mem, proposal_id, by="dashboard", reason=reason or "")
        except ProposalNotFound:
            raise KeyError(proposal_id) from None
        except decide.ProposalClosed as exc:
            raise ValueError(str(exc)) from None
        status = str(result["status"])
        if status.startswith("already-"):  # a second click: nothing was applied this time
            raise ValueError(f"{proposal_id} is no longer pending: it was "
                             f"{status.removeprefix('already-')}")
        return status

    return ReviewQueue(pending=pending, approve=lambda pid: decided(pid, "approve"),
                       reject=lambda pid, reason: decided(pid, "reject", reason))
