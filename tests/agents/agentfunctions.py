"""A function that needs the owner's approval: it asks and waits for the answer, as an agent
run would."""

from __future__ import annotations

from typing import Any

from joelclaw.bus.execution import Context
from joelclaw.bus.functions import function


@function("t-needs-approval", trigger="test/needs-approval")
def needs_approval(ctx: Context) -> dict[str, Any]:
    d = ctx.event.data
    rid = d["rid"]
    ctx.step.send_event("ask", {"name": "agent/approval.requested", "data": {
        "request_id": rid, "agent": d.get("agent", "codex"), "category": d["category"],
        "operation": d.get("operation", "push to main"), "reasoning": "the fix is ready"}})
    answer = ctx.step.wait_for_event("answer", "agent/approval.resolved", timeout="2m",
                                     if_=f'async.data.request_id == "{rid}"')
    if answer is None:
        return {"status": "no answer"}
    return {"status": answer["data"]["status"], "reviewer": answer["data"]["reviewer"]}
