"""The needs-me page's one-tap actions: answer an agent's approval, mark failures seen or
dismiss one, retry or drop a dead gateway message, dismiss the day's budget warning. Each is a
CSRF-checked POST answered with a redirect back to the page (a reload never repeats it)."""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.exceptions import BadRequest, Conflict

from joelclaw.agents.approvals import Approvals
from joelclaw.errors import NotFound
from joelclaw.events.model import Event
from joelclaw.insight import needs
from webhooks.dashboard.blueprint import blueprint, rt

VERDICTS = {"approve": "approved", "deny": "denied"}
DISMISSABLE = ("run:", "budget:")


def _back(code: str) -> Any:
    return redirect(url_for("dashboard.needs", notice=code), 303)


@blueprint.post("/approvals/<request_id>/<verdict>")
def approval(request_id: str, verdict: str) -> Any:
    """Send the answer the Telegram buttons and the CLI send (`agent/approval.resolved`)."""
    if verdict not in VERDICTS:
        raise BadRequest("verdict must be approve or deny")
    if Approvals(rt().redis).get(request_id) is None:
        raise NotFound(f"no pending approval request {request_id!r} (unknown, or answered)")
    rt().send(Event(name="agent/approval.resolved", data={
        "request_id": request_id, "status": VERDICTS[verdict], "reviewer": "dashboard",
        "learn": False}))
    needs.dismiss(rt(), f"approval:{request_id}")  # answered: gone from the page at once
    return _back("approval-sent")


@blueprint.post("/needs-me/seen")
def seen() -> Any:
    needs.mark_seen(rt())
    return _back("seen")


@blueprint.post("/needs-me/dismiss")
def dismiss() -> Any:
    item = request.form.get("item", "")
    if not item.startswith(DISMISSABLE) or len(item) > 300:
        raise BadRequest("item must be run:<id> or budget:<date>")
    needs.dismiss(rt(), item)
    return _back("dismissed")


@blueprint.post("/gateway/dead/<letter_id>/<verb>")
def dead_letter(letter_id: str, verb: str) -> Any:
    from joelclaw.gateway.queue import MessageQueue
    from joelclaw.gateway.service import request_drain

    queue = MessageQueue(rt().redis)
    try:
        if verb == "retry":
            queue.retry_dead(letter_id)
            request_drain(rt())
        elif verb == "drop":
            queue.drop_dead(letter_id)
        else:
            raise BadRequest("verb must be retry or drop")
    except KeyError:
        raise Conflict("that message was retried or dropped already") from None
    return _back("retried" if verb == "retry" else "dropped")
