"""Memory functions (reference §1.3): observe -> reflect -> triage -> review -> promote, the
Todoist and Telegram review paths and the nudge. Thin: the logic is in joelclaw.memory, and
`ctx.memory` is the runtime's one Memory (the memory extension, joelclaw.memory.plugin, which
also gives the gateway its recall and /search hooks).

Each function imports the memory modules it calls when it runs: declaring them (`joelclaw
functions`, `status`, `schedule` read the registry) loads no memory machinery.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from joelclaw import (
    ConfigError,
    Context,
    NonRetriable,
    cron,
    function,
    trigger,
)

if TYPE_CHECKING:
    from joelclaw.events.payloads.memory import (
        CompactionPending,
        ProposalApproved,
        ProposalCreated,
        ProposalRejected,
        SessionEnded,
    )
    from joelclaw.events.payloads.system import FunctionFailed
    from joelclaw.events.payloads.telegram import CallbackReceived
    from joelclaw.events.payloads.todoist import Task
    from joelclaw.memory import service

_PROPOSAL_REF = re.compile(r"Proposal:\s*(p-\d{8}-\d{3,})")




def _mem(ctx: Context[Any]) -> service.Memory:
    memory: service.Memory = ctx.memory
    return memory


def _release_observe_lock(ctx: Context[FunctionFailed]) -> dict[str, Any]:
    """A failed observe run frees its dedupe lock, so sending the session again works."""
    from joelclaw.memory import observe

    failed = ctx.event.data
    session = failed.event.get("data") or {}
    dedupe = session.get("dedupe_key") or session.get("dedupeKey")
    if not dedupe:
        return {"released": False}
    return {"released": observe.release(_mem(ctx), str(dedupe), failed.run_id)}


def _no_llm(fn: Any, *args: Any) -> Any:
    """Missing LLM settings will not fix themselves on a retry: fail at once, saying which."""
    try:
        return fn(*args)
    except ConfigError as exc:
        raise NonRetriable(str(exc)) from None


def _final(fn: Any, *args: Any) -> Any:
    """An unknown or already closed proposal is a clear, final error, not a retry."""
    from joelclaw.memory import decide, proposals

    try:
        return fn(*args)
    except (proposals.ProposalNotFound, decide.ProposalClosed) as exc:
        raise NonRetriable(str(exc)) from None


@function("memory-observe", triggers=["memory/session.ended", "memory/session.compaction.pending"],
          throttle={"limit": 4, "period": "60s"}, retries=3, on_failure=_release_observe_lock)
def observe_session(ctx: Context[SessionEnded | CompactionPending]) -> dict[str, Any]:
    """Extract facts from a session, gate and store them, merge duplicates, log the day."""
    from joelclaw.memory import observe

    session = ctx.event.data
    mem = _mem(ctx)
    key = session.dedupe_key
    if not ctx.step.run("dedupe-check", observe.claim, mem, key, ctx.run_id):
        return {"status": "deduplicated", "dedupe_key": key}
    name = getattr(session, "session_name", None)
    files = [*session.files_read, *session.files_modified]
    facts = ctx.step.run("call-observer-llm", _no_llm, observe.call_observer, mem,
                         session.messages, name, files)
    stored = ctx.step.run("store-to-typesense", lambda: observe.store(
        mem, facts, session_id=session.session_id, source=session.trigger, dedupe_key=key))
    date = ctx.step.run("today", observe.day)
    ctx.step.run("append-daily-log", lambda: observe.append_daily_log(
        mem, facts, session_id=session.session_id, dedupe_key=key, trigger=session.trigger,
        date=date))
    state = ctx.step.run("update-redis-state", lambda: observe.update_state(
        mem, facts, stored, session_id=session.session_id, dedupe_key=key,
        trigger=session.trigger, date=date))
    ctx.step.run("mark-done", observe.mark_done, mem, key, ctx.run_id)
    if session.trigger != "backfill":
        ctx.step.send_event("emit-accumulated", {
            "name": "memory/observations.accumulated",
            "data": {"date": date, "total_tokens": state["total_tokens"],
                     "observation_count": state["observation_count"],
                     "reflectable_count": state["reflectable"], "captured_at": time.time()}})
    return {"status": "observed", "facts": len(facts), **stored}


@function("memory-reflect", triggers=[cron(lambda s: s.memory.reflect_cron,
                                           timezone=lambda s: s.timezone),
                                      "memory/observations.accumulated"],
          concurrency=1, retries=2)
def reflect_memory(ctx: Context[Any]) -> dict[str, Any]:
    """Seven days of allowed observations + MEMORY.md -> staged proposals, one event each."""
    from joelclaw.memory import observe, reflect

    mem = _mem(ctx)
    result = ctx.step.run("call-reflector-llm", _no_llm, lambda: asdict(reflect.reflect(mem)))
    if not result["proposals"]:
        return {"proposals": 0, "input_chars": result["input_chars"]}
    staged = ctx.step.run("stage-review", reflect.stage, mem, ctx.run_id, result["proposals"])
    date = ctx.step.run("today", observe.day)
    ctx.step.run("append-daily-log", lambda: mem.daily.append_once(
        date, f"reflected:{date}", "### 🔭 Reflected\n" + "\n".join(
            f"- {p['id']} ({p['section']}): {p['change']}" for p in staged)))
    ctx.step.send_event("fan-out-proposals", [
        {"name": "memory/proposal.created", "data": {
            "proposal_id": p["id"], "id": p["id"], "section": p["section"],
            "change": p["change"], "source": "reflect", "timestamp": time.time()}}
        for p in staged])
    ctx.step.send_event("emit-complete", {"name": "memory/observations.reflected", "data": {
        "date": date, "input_tokens": result["input_chars"] // 4,
        "output_tokens": result["output_chars"] // 4,
        "compression_ratio": (result["output_chars"] / result["input_chars"]
                              if result["input_chars"] else 0.0),
        "proposal_count": len(staged), "captured_at": time.time()}})
    return {"proposals": len(staged), "ids": [p["id"] for p in staged],
            "dropped": result["dropped"], "attempts": result["attempts"]}


@function("memory-proposal-triage", trigger="memory/proposal.created", concurrency=1)
def triage_proposal(ctx: Context[ProposalCreated]) -> dict[str, Any]:
    """The seven deterministic rules; the owner's review task for needs-review."""
    from joelclaw.memory import review

    proposal_id = ctx.event.data.proposal_id
    result = ctx.step.run("triage-proposal", _final, review.apply_triage, _mem(ctx), proposal_id)
    if result["action"] != "none":
        ctx.step.send_event("emit-triaged", {"name": "memory/proposal.triaged", "data": {
            "proposal_id": proposal_id, "action": result["action"], "reason": result["reason"],
            "merge_with": result.get("merge_with"), "triaged_at": time.time()}})
    return result


@function("memory-batch-review", triggers=[cron(lambda s: s.memory.review_cron,
                                                timezone=lambda s: s.timezone),
                                           "memory/batch-review.requested"], concurrency=1)
def batch_review(ctx: Context[Any]) -> dict[str, Any]:
    """The LLM reviews `llm-pending` in one batch: promote, reject or hand to the owner."""
    from joelclaw.memory import review

    return ctx.step.run("llm-review-proposals", _no_llm, review.batch_review, _mem(ctx))


@function("memory-review-promote",
          triggers=["memory/proposal.approved", "memory/proposal.rejected",
                    cron(lambda s: s.memory.expire_cron, timezone=lambda s: s.timezone)],
          concurrency=1)
def review_promote(ctx: Context[ProposalApproved | ProposalRejected | Any]) -> dict[str, Any]:
    """Approved -> MEMORY.md; rejected -> the daily log; the cron expires stale proposals."""
    from joelclaw.events.payloads.memory import ProposalApproved, ProposalRejected
    from joelclaw.memory import decide

    mem = _mem(ctx)
    if isinstance(approved := ctx.event.data, ProposalApproved):
        return ctx.step.run("promote-approved-proposal", _final, lambda: decide.approve(
            mem, approved.proposal_id, by=approved.approved_by))
    if isinstance(rejected := ctx.event.data, ProposalRejected):
        return ctx.step.run("archive-rejected-proposal", _final, lambda: decide.reject(
            mem, rejected.proposal_id, by=rejected.rejected_by or "joel",
            reason=rejected.reason, close_task=rejected.rejected_by != "todoist"))
    return {"expired": ctx.step.run("expire-stale-proposals", decide.expire, mem)}


@function("memory-todoist-review-bridge",
          triggers=["todoist/task.completed", "todoist/task.deleted"])
def todoist_review_bridge(ctx: Context[Task]) -> dict[str, Any]:
    """A `memory-review` task: completing approves; deleting it, or `rejected`, rejects; only
    when Todoist reports the owner as the one who did it (a collaborator cannot decide)."""
    task = ctx.event.data
    if "memory-review" not in task.labels:
        return {"skipped": "not a memory review task"}
    if not task.by_owner:
        return {"skipped": f"not done by the owner (Todoist user {task.initiator_id})"}
    found = _PROPOSAL_REF.search(f"{task.task_description}\n{task.task_content}")
    if found is None:
        return {"skipped": "no `Proposal: p-YYYYMMDD-NNN` in the task"}
    proposal_id = found.group(1)
    context = {"todoist_task_id": task.task_id}
    if ctx.event.name == "todoist/task.deleted" or "rejected" in task.labels:
        ctx.step.send_event("emit-rejected", {"name": "memory/proposal.rejected", "data": {
            "proposal_id": proposal_id, "reason": "rejected in Todoist",
            "rejected_by": "todoist", "proposal_context": context}})
        return {"proposal_id": proposal_id, "decision": "rejected"}
    ctx.step.send_event("emit-approved", {"name": "memory/proposal.approved", "data": {
        "proposal_id": proposal_id, "approved_by": "joel", "proposal_context": context}})
    return {"proposal_id": proposal_id, "decision": "approved"}


@function("memory-telegram-review",
          trigger=trigger("telegram/callback.received", if_='event.data.action == "memory"'))
def telegram_review(ctx: Context[CallbackReceived]) -> dict[str, Any]:
    """`memory:approve:<id>` / `memory:reject:<id>` buttons, pressed by the owner."""
    press = ctx.event.data
    owner = ctx.settings.telegram.owner_id
    if owner is None or press.from_id != owner:  # no owner set: no press is the owner's
        return {"skipped": "not the owner's button press"}
    verb, _, proposal_id = press.context.partition(":")
    if verb not in ("approve", "reject"):
        return {"skipped": f"unknown memory action {verb!r}"}
    if not proposal_id or _mem(ctx).proposals.get(proposal_id) is None:
        ctx.gateway.notify(f"⚠️ That button names no known proposal ({proposal_id or 'none'}): "
                           "see `joelclaw review list`.", type="memory.review.unknown",
                           step_id="notify-unknown")
        return {"skipped": "unknown proposal", "proposal_id": proposal_id}
    if verb == "approve":
        ctx.step.send_event("emit-approved", {"name": "memory/proposal.approved", "data": {
            "proposal_id": proposal_id, "approved_by": "telegram"}})
    else:
        ctx.step.send_event("emit-rejected", {"name": "memory/proposal.rejected", "data": {
            "proposal_id": proposal_id, "reason": "rejected on Telegram",
            "rejected_by": "telegram"}})
    return {"proposal_id": proposal_id, "decision": verb}


@function("memory-review-nudge", trigger="memory/review.check")
def review_nudge(ctx: Context[Any]) -> dict[str, Any]:
    """At most once per 24 h: the proposals that wait for the owner, with buttons."""
    from joelclaw.memory import review

    mem = _mem(ctx)
    found = ctx.step.run("pending-for-owner", review.nudge, mem)
    if found is None:
        return {"nudged": False, "waiting": 0}
    hours = ctx.settings.memory.nudge_hours
    if not ctx.step.run("nudge-cooldown", ctx.cooldown.claim, "memory:review:nudge-sent",
                        hours * 3600):
        return {"nudged": False, "waiting": found["count"], "cooling_down": True}
    ctx.gateway.notify(found["text"], type="memory.review.nudge", buttons=found["buttons"],
                       step_id="notify-owner")
    return {"nudged": True, "waiting": found["count"]}
