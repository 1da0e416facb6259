"""`joelclaw approvals list|approve|deny|categories|history`: the agents' approval requests.

`approve` and `deny` send `agent/approval.resolved` (reviewer `cli`), the same event the
Telegram buttons send, so the waiting run resumes and `agent-approval-resolve` records it; an
id that is not pending is a clear error with exit status 1.
"""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.app import Session, cli, command
from joelclaw.cli.output import Failure, Reply, action, fmt_age, table


def _approvals(session: Session) -> Any:
    from joelclaw.agents.approvals import Approvals

    return Approvals(session.runtime().redis)


@cli.group("approvals")
def approvals_group() -> None:
    """Agent approval requests: pending, approve or deny, learned categories, history."""


def _render_pending(result: dict[str, Any]) -> str:
    return table(("ID", "AGENT", "CATEGORY", "OPERATION", "ASKED"),
                 [(r["request_id"], r["agent"], r["category"], r["operation"][:60],
                   fmt_age(r.get("requested_at"))) for r in result["pending"]])


@command("list", group=approvals_group)
def approvals_list(session: Session) -> Reply:
    """Requests waiting for the owner, oldest first."""
    pending = _approvals(session).pending()
    return Reply({"pending": pending, "count": len(pending)}, _render_pending,
                 [action("approvals approve <id>", "approve one (the waiting run resumes)"),
                  action("approvals deny <id>", "deny one")])


def _resolve(session: Session, request_id: str, status: str, learn: bool,
             reason: str | None) -> Reply:
    from joelclaw.events.model import Event

    approvals = _approvals(session)
    pending = approvals.get(request_id)
    if pending is None:
        raise Failure(f"no pending approval request {request_id!r} (unknown, or already "
                      "resolved)", "APPROVAL_NOT_FOUND",
                      "List the pending requests with `joelclaw approvals list`.",
                      next_actions=[action("approvals list", "pending requests"),
                                    action("approvals history", "resolved requests")])
    data: dict[str, Any] = {"request_id": request_id, "status": status, "reviewer": "cli",
                            "learn": learn}
    if reason:
        data["reason"] = reason
    [sent] = session.runtime().send(Event(name="agent/approval.resolved", data=data))
    result = {"request_id": request_id, "status": status, "learn": learn,
              "agent": pending["agent"], "category": pending["category"],
              "event": sent.id, "runs": sent.runs}
    return Reply(result, lambda r: f"{r['request_id']}: {r['status']}"
                 + (f" (learned {r['agent']}/{r['category']})" if r["learn"] else ""),
                 [action("approvals history", "resolved requests"),
                  action("approvals list", "what is still pending")])


@command("approve", group=approvals_group)
@click.argument("request_id")
@click.option("--learn", is_flag=True, help="Also approve this category from now on.")
def approvals_approve(session: Session, request_id: str, learn: bool) -> Reply:
    """Approve a pending request."""
    return _resolve(session, request_id, "approved", learn, None)


@command("deny", group=approvals_group)
@click.argument("request_id")
@click.option("--reason", default=None, help="Told to the agent and kept in the history.")
def approvals_deny(session: Session, request_id: str, reason: str | None) -> Reply:
    """Deny a pending request."""
    return _resolve(session, request_id, "denied", False, reason)


@command("categories", group=approvals_group)
@click.option("--forget", nargs=2, metavar="AGENT CATEGORY", default=None,
              help="Stop auto-approving this agent's category.")
def approvals_categories(session: Session, forget: tuple[str, str] | None) -> Reply:
    """Categories each agent may do without asking (learned from approvals)."""
    approvals = _approvals(session)
    forgotten = None
    if forget:
        if not approvals.forget(*forget):
            raise Failure(f"{forget[0]} has no learned category {forget[1]!r}",
                          "APPROVAL_CATEGORY_NOT_FOUND",
                          "See the learned ones with `joelclaw approvals categories`.",
                          next_actions=[action("approvals categories", "learned categories")])
        forgotten = {"agent": forget[0], "category": forget[1]}
    found = approvals.categories()
    return Reply({"categories": found, "count": len(found), "forgotten": forgotten},
                 lambda r: table(("AGENT", "CATEGORY", "LEARNED", "BY"),
                                 [(c["agent"], c["category"], fmt_age(c.get("at")), c.get("by"))
                                  for c in r["categories"]]),
                 [action("approvals history", "resolved requests")])


@command("history", group=approvals_group)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
def approvals_history(session: Session, limit: int) -> Reply:
    """Resolved requests, newest first."""
    found = _approvals(session).history(limit)
    return Reply({"history": found, "count": len(found)},
                 lambda r: table(("ID", "STATUS", "BY", "AGENT", "CATEGORY", "OPERATION",
                                  "WHEN"),
                                 [(h["request_id"], h["status"], h["reviewer"], h["agent"],
                                   h["category"], h["operation"][:50],
                                   fmt_age(h.get("resolved_at"))) for h in r["history"]]),
                 [action("approvals list", "pending requests")])
