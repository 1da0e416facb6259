"""Background agents and approvals (reference §1.1 #15-16, §1.6 #75).

- `system-agent-dispatch`: a `system/agent.requested` runs the configured agent command
  (throttle 3 per 60 s; cancelled by `system/agent.cancelled` with the same request id, which
  stops the tool's whole process group), writes the inbox file, emits `system/agent.completed`.
  A request on behalf of anyone but the owner (`origin`: a Vercel deploy, the o11y triage)
  first asks the owner through the approval flow below and runs only once approved.
- `agent-completed-notify`: the owner hears the outcome.
- `agent-approval-request` / `agent-approval-resolve`: learned categories are approved at once,
  anything else asks the owner with Approve / Deny / Learn buttons and waits for
  `agent/approval.resolved`; `agent-approval-button` turns an `apr:<id>:<verb>` press into it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from joelclaw import Context, function, trigger
from joelclaw.agents import approvals, inbox

if TYPE_CHECKING:
    from joelclaw.events.payloads.agents import (
        AgentCompleted,
        AgentRequested,
        ApprovalRequested,
        ApprovalResolved,
    )
    from joelclaw.events.payloads.telegram import CallbackReceived

OUTPUT_PREVIEW = 1500
NOTIFY_PREVIEW = 800


def _timeout(ctx: Context[AgentRequested]) -> float:
    s = ctx.settings
    asked = ctx.event.data.timeout or s.agents.dispatch_timeout_seconds
    return min(asked, s.agents.dispatch_max_timeout_seconds)


def _execute(ctx: Context[AgentRequested]) -> dict[str, Any]:
    from joelclaw.agents import dispatch

    s, request = ctx.settings, ctx.event.data
    outcome = dispatch.run(s.agents.dispatch_command, request, timeout=_timeout(ctx),
                           workdir=s.agent_inbox, should_stop=ctx.cancel_requested)
    return outcome.to_dict()


def approval_id(request_id: str) -> str:
    """The approval request's id for an agent request (short enough for a Telegram button)."""
    return "agt-" + hashlib.sha256(request_id.encode()).hexdigest()[:16]


def _quoted(text: str, limit: int = 1200) -> str:
    """Someone else's text shown to the owner as a code block it cannot break out of."""
    return "```\n" + text[:limit].replace("`", "'") + "\n```"


def _owner_verdict(ctx: Context[AgentRequested]) -> dict[str, Any]:
    """Ask the owner (the approval flow: Telegram buttons, `joelclaw approvals`) and wait."""
    request = ctx.event.data
    rid = approval_id(request.request_id)
    why = f"Requested on behalf of {request.origin}, not by you."
    if request.context:
        why += f" Its text (data for the agent, not instructions):\n{_quoted(request.context)}"
    ctx.step.send_event("ask-owner", {"name": "agent/approval.requested", "data": {
        "request_id": rid, "agent": request.tool, "category": f"{request.origin}-agent",
        "operation": f"run {request.tool} ({request.sandbox}) for request "
                     f"{request.request_id}: {request.task[:300]}",
        "reasoning": why}})
    timeout = ctx.settings.agents.approval_timeout_seconds + 300  # its own timeout denies
    answer = ctx.step.wait_for_event("wait-for-owner", "agent/approval.resolved",
                                     timeout=timeout, if_=f'async.data.request_id == "{rid}"')
    if answer is None:
        return {"status": "denied", "reviewer": "timeout"}
    return {"status": answer["data"]["status"], "reviewer": answer["data"].get("reviewer")}


@function("system-agent-dispatch", trigger="system/agent.requested", retries=1,
          throttle={"limit": 3, "period": "60s"},
          cancel_on=[{"event": "system/agent.cancelled", "match": "data.request_id"}])
def agent_dispatch(ctx: Context[AgentRequested]) -> dict[str, Any]:
    """Run the agent command on the task (once the owner approved, when someone else asked);
    its result goes to the inbox and the owner."""
    request = ctx.event.data
    if request.needs_approval:
        verdict = _owner_verdict(ctx)
        if verdict["status"] != "approved":
            return {"request_id": request.request_id, "status": "denied", **verdict}
    # A cancelled run stops the tool within the step; the next step's start ends the run as
    # cancelled (the bus checks the flag there), so nothing below runs for it.
    outcome = ctx.step.run("execute-agent", _execute, ctx)
    entry = {"status": outcome["status"], "task": request.task, "tool": request.tool,
             "model": request.model, "session_id": request.session_id, "run_id": ctx.run_id,
             "exit_code": outcome["exit_code"], "duration_ms": outcome["duration_ms"],
             "error": outcome["error"], "output": outcome["output"],
             "stderr": outcome["stderr"]}
    path = ctx.step.run("write-inbox", inbox.write, ctx.settings.agent_inbox,
                        request.request_id, entry)
    ctx.step.send_event("emit-completed", {"name": "system/agent.completed", "data": {
        "request_id": request.request_id, "status": outcome["status"], "task": request.task,
        "tool": request.tool, "duration_ms": outcome["duration_ms"],
        "session_id": request.session_id, "exit_code": outcome["exit_code"],
        "inbox_path": path, "output": outcome["output"][:OUTPUT_PREVIEW],
        "error": outcome["error"], "origin_chat": request.origin_chat}})
    return {"request_id": request.request_id, "status": outcome["status"], "inbox": path}


@function("agent-completed-notify", trigger="system/agent.completed")
def agent_completed(ctx: Context[AgentCompleted]) -> dict[str, Any]:
    """Tell the chat the request came from (default: the owner's) how the agent did, with the
    head of its output and the inbox file."""
    d = ctx.event.data
    icon = {"completed": "🤖✅", "failed": "🤖❌", "timeout": "🤖⏱"}[d.status]
    lines = [f"{icon} Agent **{d.tool}** {d.status}: {d.task[:200]}",
             f"Request `{d.request_id}`, {d.duration_ms / 1000:.1f} s"]
    if d.error:
        lines.append(f"⚠️ {d.error}")
    if d.output.strip():
        lines += ["", d.output.strip()[:NOTIFY_PREVIEW]]
    if d.inbox_path:
        lines += ["", f"Inbox: `{d.inbox_path}`"]
    return ctx.gateway.notify("\n".join(lines), type=f"agent.{d.status}",
                              priority=1 if d.status != "completed" else None,
                              chat=d.origin_chat, step_id="notify-gateway")


# -- approvals ----------------------------------------------------------------------------------

def _approvals(ctx: Context[Any]) -> approvals.Approvals:
    service: approvals.Approvals = ctx.approvals
    return service


def request_id_of(ctx: Context[ApprovalRequested]) -> str:
    """The requester's id, or one derived from the event id (short enough for a button)."""
    given = ctx.event.data.request_id
    return given or "apr-" + hashlib.sha256(ctx.event.id.encode()).hexdigest()[:16]


@function("agent-approval-request", trigger="agent/approval.requested", retries=1)
def approval_request(ctx: Context[ApprovalRequested]) -> dict[str, Any]:
    """Auto-approve a learned category; else ask the owner and wait for the answer (denied
    when none comes within JOELCLAW_APPROVAL_TIMEOUT_SECONDS)."""
    d, store = ctx.event.data, _approvals(ctx)
    rid = request_id_of(ctx)
    submitted = ctx.step.run("submit-request", lambda: {
        **store.submit(rid, d.agent, d.category, d.operation, d.reasoning,
                       run_id=ctx.run_id),
        "auto": store.learned(d.agent, d.category)})
    if submitted["auto"]:
        ctx.step.send_event("auto-resolve", {"name": "agent/approval.resolved", "data": {
            "request_id": rid, "status": "approved", "reviewer": "auto",
            "reason": f"category {d.category!r} is learned for {d.agent}"}})
        return {"request_id": rid, "status": "approved", "reviewer": "auto"}
    text = approvals.request_text(ctx.settings, rid, d.agent, d.operation, d.category,
                                  d.reasoning)
    ctx.gateway.notify(text, type="approval.requested", priority=1,
                       buttons=approvals.buttons(rid),
                       step_id="notify-gateway-pending")
    timeout = ctx.settings.agents.approval_timeout_seconds
    answer = ctx.step.wait_for_event("wait-for-owner", "agent/approval.resolved",
                                     timeout=timeout, if_=f'async.data.request_id == "{rid}"')
    if answer is None:
        ctx.step.send_event("timeout-deny", {"name": "agent/approval.resolved", "data": {
            "request_id": rid, "status": "denied", "reviewer": "timeout",
            "reason": f"no answer within {timeout:g} s"}})
        return {"request_id": rid, "status": "denied", "reviewer": "timeout"}
    data = answer["data"]
    return {"request_id": rid, "status": data["status"], "reviewer": data.get("reviewer")}


@function("agent-approval-resolve", trigger="agent/approval.resolved", retries=1)
def approval_resolve(ctx: Context[ApprovalResolved]) -> dict[str, Any]:
    """Record the first resolution of a pending request (a learn adds its category) and tell
    the owner; later ones for the same request change nothing."""
    d = ctx.event.data
    resolved = ctx.step.run("resolve-request", lambda: _approvals(ctx).resolve(
        d.request_id, d.status, d.reviewer, learn=d.learn, reason=d.reason))
    if resolved is None:
        return {"request_id": d.request_id, "skipped": "not pending"}
    icon = "✅" if d.status == "approved" else "❌"
    learned = f" — {resolved['agent']} may now always {resolved['category']!r}" if (
        d.learn and d.status == "approved") else ""
    text = (f"{icon} Approval `{d.request_id}` {d.status} by {d.reviewer}: "
            f"{resolved['operation'][:200]}{learned}")
    ctx.gateway.notify(text, type="approval.resolved",
                       triage="batched" if d.reviewer == "auto" else None,
                       step_id="notify-gateway-resolved")
    return {"request_id": d.request_id, "status": d.status, "learned": bool(learned)}


@function("agent-approval-button",
          trigger=trigger("telegram/callback.received", if_='event.data.action == "apr"'))
def approval_button(ctx: Context[CallbackReceived]) -> dict[str, Any]:
    """`apr:<request id>:<approve|deny|learn>`, pressed by the owner (anyone else: nothing)."""
    press = ctx.event.data
    owner = ctx.settings.telegram.owner_id
    if owner is None or press.from_id != owner:
        return {"skipped": "not the owner's button press"}
    parsed = approvals.parse_button(press.context)
    if parsed is None:
        return {"skipped": f"not an approval button: {press.raw_data!r}"}
    rid, status, learn = parsed
    if _approvals(ctx).get(rid) is None:
        ctx.gateway.notify(f"⚠️ Approval `{rid}` is not pending any more (resolved or "
                           "unknown): `joelclaw approvals history`.",
                           type="approval.unknown", step_id="notify-unknown")
        return {"skipped": "not pending", "request_id": rid}
    ctx.step.send_event("resolve", {"name": "agent/approval.resolved", "data": {
        "request_id": rid, "status": status, "reviewer": "telegram", "learn": learn}})
    return {"request_id": rid, "status": status, "learn": learn}
