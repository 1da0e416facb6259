"""What waits on the owner, gathered in one place (the dashboard's "needs me" page).

Failures since the owner last looked (grouped by function), agent approvals, memory proposals,
runs waiting for an event the owner can send, dead gateway messages and messages held while
the gateway sleeps, and the LLM budget warning. Each item names the action that settles it.

"Last looked" is a time the owner sets by marking the page seen; before the first time it is
a day ago. An item the owner dismissed (a failure, the budget warning of a day) or answered (an
approval whose answer is on its way) is remembered in a set, so it does not come back.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.flow import waits
from joelclaw.insight.review import ReviewUnavailable, review_queue

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

FIRST_LOOK_SECONDS = 24 * 3600.0
FAILURES_SCAN = 500
SHOWN = 5
BUDGET_WARN_AT = 0.8


def last_looked(rt: Bus, now: float | None = None) -> float:
    raw = rt.redis.get(keys.NEEDS_SEEN)
    return float(raw) if raw else (now or time.time()) - FIRST_LOOK_SECONDS


def mark_seen(rt: Bus, at: float | None = None) -> float:
    at = time.time() if at is None else at
    rt.redis.set(keys.NEEDS_SEEN, repr(at))
    return at


def dismiss(rt: Bus, item: str) -> None:
    """Forget one item: `run:<id>`, `approval:<id>` (answered), `budget:<date>`."""
    pipe = rt.redis.pipeline(transaction=True)
    pipe.sadd(keys.NEEDS_DISMISSED, item)
    pipe.expire(keys.NEEDS_DISMISSED, keys.NEEDS_DISMISSED_TTL)
    pipe.execute()


def _dismissed(rt: Bus) -> set[str]:
    return {m.decode() for m in rt.redis.smembers(keys.NEEDS_DISMISSED)}


def needs_me(rt: Bus, now: float | None = None) -> dict[str, Any]:
    """Every pending item by kind, with `count` (the number of things to act on)."""
    now = time.time() if now is None else now
    dismissed = _dismissed(rt)
    since = last_looked(rt, now)
    approvals = _approvals(rt, dismissed)
    out: dict[str, Any] = {
        "since": since,
        "failures": _failures(rt, since, dismissed),
        "approvals": approvals,
        "proposals": _proposals(rt),
        "waiting": _waiting(rt, {a.get("run_id") for a in approvals}),
        "gateway": _gateway(rt),
        "budget": _budget(rt, dismissed, now),
    }
    out["count"] = (sum(g["count"] for g in out["failures"]) + len(approvals)
                    + len(out["proposals"]["items"]) + len(out["waiting"])
                    + len(out["gateway"]["dead"]) + (1 if out["gateway"]["held"] else 0)
                    + (1 if out["budget"] else 0))
    return out


def pending_count(rt: Bus) -> int:
    return int(needs_me(rt)["count"])


def _failures(rt: Bus, since: float, dismissed: set[str]) -> list[dict[str, Any]]:
    """Failed runs created since the last look, by function, newest group first."""
    groups: dict[str, dict[str, Any]] = {}
    for run in rt.runs.list(status=["failed"], since=since, limit=FAILURES_SCAN):
        if f"run:{run.id}" in dismissed:
            continue
        group = groups.setdefault(run.function, {"function": run.function, "count": 0,
                                                 "runs": [], "newest": run.created_at})
        group["count"] += 1
        if len(group["runs"]) < SHOWN:
            error = run.error or {}
            group["runs"].append({**run.summary(), "error": {
                "name": error.get("name"), "message": str(error.get("message") or "")[:300]}})
    return sorted(groups.values(), key=lambda g: -g["newest"])


def _approvals(rt: Bus, dismissed: set[str]) -> list[dict[str, Any]]:
    from joelclaw.agents.approvals import Approvals

    return [a for a in Approvals(rt.redis).pending()
            if f"approval:{a['request_id']}" not in dismissed]


def _proposals(rt: Bus) -> dict[str, Any]:
    try:
        queue = review_queue(rt)
    except ReviewUnavailable as exc:
        return {"available": False, "reason": str(exc), "items": []}
    return {"available": True, "reason": None, "items": [p.to_dict() for p in queue.pending(50)]}


def _waiting(rt: Bus, approval_runs: set[Any]) -> list[dict[str, Any]]:
    """Runs waiting for an event (an approval's own wait is listed as the approval)."""
    found = [w for w in waits.waiting(rt) if w["run"] not in approval_runs]
    functions = rt.runs.functions_of([w["run"] for w in found])
    return [{**w, "function": fn} for w, fn in zip(found, functions, strict=True)
            if fn is not None]


def _gateway(rt: Bus) -> dict[str, Any]:
    from joelclaw.gateway.queue import MessageQueue

    queue = MessageQueue(rt.redis)
    dead = [{"id": letter_id, "text": str(body.get("prompt") or "")[:300],
             "type": (body.get("meta") or {}).get("type"), "source": body.get("source"),
             "at": body["ts"] / 1000 if isinstance(body.get("ts"), int | float) else None}
            for letter_id, body in queue.dead_letters()]
    sleeping = rt.redis.get(keys.GW_MODE) == b"sleep"
    held = queue.ready_count() if sleeping else 0
    return {"dead": dead, "held": held, "sleeping": sleeping}


def _budget(rt: Bus, dismissed: set[str], now: float) -> dict[str, Any] | None:
    budget = rt.settings.llm.daily_budget_usd
    if not budget:
        return None
    from joelclaw.telemetry.spend import spent_on, today

    date = today(rt.settings, now)
    spent = spent_on(rt, date)
    if spent < BUDGET_WARN_AT * budget or f"budget:{date}" in dismissed:
        return None
    return {"date": date, "spent_usd": round(spent, 4), "budget_usd": budget,
            "share": round(spent / budget, 4), "exhausted": spent >= budget}
