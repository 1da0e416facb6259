"""What each dashboard page shows, as JSON-ready data: the HTML page renders it and the same
dict is served under /api/dashboard/. Event data and step I/O are redacted previews."""

from __future__ import annotations

import json
from typing import Any

from joelclaw import health
from joelclaw.bus.control import bulk, paused
from joelclaw.bus.flow import explain_run, waits
from joelclaw.bus.records import STATUSES, TERMINAL, preview, wakeups
from joelclaw.coordination.budgets import asks as budget_asks
from joelclaw.errors import NotFound
from joelclaw.events import index
from joelclaw.events.store import get_event, list_events
from joelclaw.insight import needs, schedule
from joelclaw.insight.functions import function_rows
from joelclaw.insight.gateway import gateway_view
from joelclaw.insight.records import index_page, run_heads
from joelclaw.insight.review import ReviewUnavailable, review_queue
from joelclaw.insight.runs import Cursor, page_runs, run_row
from joelclaw.insight.trace import run_trace
from joelclaw.insight.waterfall import waterfall
from joelclaw.redaction import configured_secrets, redact
from joelclaw.runtime import Runtime

NEWEST = 500  # the overview's counts and failures cover this many of the newest runs
SPEND_DAYS = 7  # LLM spend per function is summed over this many recorded days
FAILURES_SHOWN = 5


def overview(rt: Runtime) -> dict[str, Any]:
    report = health.check(rt)  # the same rules as /health and `joelclaw status`
    parts = report["components"]
    recent = page_runs(rt, size=20).runs
    counts, failed = _newest_by_status(rt, NEWEST)
    return {
        "system": {
            "status": report["status"], "failing": report["failing"],
            "workers_alive": health.role_alive(report, health.WORKER),
            "workers": [{"name": n["hostname"], "age_s": n["age_s"], "roles": n["roles"],
                         "alive": n["alive"]}
                        for n in parts.get("workers", {}).get("seen", [])],
            "beat_age_s": parts.get("beat", {}).get("age_s"),
            "durability": parts.get("redis", {}).get("durability"),
            "gateway_age_s": parts.get("gateway", {}).get("age_s"),
            "breakers": {name: b for name, b in
                         (parts.get("providers", {}).get("breakers") or {}).items()
                         if b["state"] == "open"},
            "budget_asks": budget_asks(rt),  # runs waiting at an effect budget
            "runs_stored": rt.runs.stored(), "wakeups_pending": wakeups.pending(rt.redis),
            "functions": len(rt.registry)},
        "counts": counts,
        "runs": [run_row(r) for r in recent],
        "failed": [run_row(r) for r in failed],
    }


def _newest_by_status(rt: Runtime, newest: int) -> tuple[dict[str, int], list[Any]]:
    """Counts by status of the newest runs, and the latest few failed ones (read in full)."""
    counts: dict[str, int] = {}
    failed: list[str] = []
    for head in run_heads(rt, index_page(rt, None, None, newest), ("id", "function", "status")):
        if head is None:
            continue
        counts[head.status] = counts.get(head.status, 0) + 1
        if head.status == "failed" and len(failed) < FAILURES_SHOWN:
            failed.append(head.id)
    return counts, [r for r in (rt.runs.get(run_id) for run_id in failed) if r is not None]


def functions(rt: Runtime, query: str | None = None) -> dict[str, Any]:
    """Every function (or those matching `query` in id, description or trigger), grouped by
    domain (the id's first word), with its pause, LLM spend and what happens next."""
    rows = function_rows(rt)
    pauses = paused(rt)
    spend = _spend_by_function(rt)
    for row in rows:
        fn = rt.function(row["id"])
        row["doc"] = fn.doc if fn is not None else row.get("description")
        row["domain"] = row["id"].split("-", 1)[0]
        row["paused"] = pauses.get(row["id"])
        row["spend"] = spend.get(row["id"])
    if query:
        needle = query.lower()
        rows = [r for r in rows if needle in _searchable(r)]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: (r["domain"], r["id"])):
        groups.setdefault(row["domain"], []).append(row)
    timeline = schedule.timeline(rt)
    for item in timeline:
        item["paused"] = item.get("function") in pauses  # it fires; its run waits for resume
    return {"functions": rows, "groups": [{"domain": d, "functions": fs}
                                          for d, fs in groups.items()],
            "query": query, "timeline": timeline, "spend_days": SPEND_DAYS}


def _searchable(row: dict[str, Any]) -> str:
    triggers = " ".join(t.get("event") or t.get("cron") or "" for t in row["triggers"])
    return f"{row['id']} {row.get('doc') or ''} {triggers}".lower()


def _spend_by_function(rt: Runtime) -> dict[str, dict[str, float]]:
    """LLM spend per function over the recent recorded days: {usd, calls, tokens}."""
    from joelclaw.telemetry.spend import day_stats, recent_days

    total: dict[str, dict[str, float]] = {}
    for date in recent_days(rt, SPEND_DAYS):
        for fn, stats in day_stats(rt, date)["functions"].items():
            into = total.setdefault(fn, {"usd": 0.0, "calls": 0, "tokens": 0})
            for name in into:
                into[name] += stats.get(name, 0)
    return total


def runs(rt: Runtime, *, function: str | None, statuses: list[str] | None,
         event_name: str | None, since: float | None, until: float | None,
         cursor: Cursor | None, size: int) -> dict[str, Any]:
    page = page_runs(rt, function=function, statuses=statuses, event_name=event_name,
                     since=since, until=until, cursor=cursor, size=size)
    return {
        "filters": {"function": function, "status": statuses or [], "event": event_name,
                    "since": since, "until": until, "cursor": cursor.encode() if cursor else None,
                    "limit": size},
        "runs": [run_row(r) for r in page.runs],
        "next_cursor": page.next_cursor,
        "choices": {"functions": [fn.id for fn in rt.registry], "statuses": list(STATUSES)},
    }


def run(rt: Runtime, run_id: str) -> dict[str, Any]:
    trace = run_trace(rt, run_id)
    if trace is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after "
                       f"{rt.settings.runs.retention_days:g} days)")
    trace = json.loads(json.dumps(trace, default=str))
    trace["event"] = preview(trace.get("event") or {})
    terminal = trace["status"] in TERMINAL
    explanation = None if terminal and trace["status"] == "completed" else explain_run(rt, run_id)
    steps = trace["steps"]
    return {
        "run": trace,
        "waterfall": waterfall(trace),
        "explain": explanation,
        "actions": {"cancel": not terminal, "replay": True,
                    "rerun_from": [s["key"] for s in steps
                                   if terminal and s.get("type") != "parallel.member"],
                    "wake": _sleeping_step(trace), "answer": _awaited(trace)},
        "loaded": rt.function(trace["function"]) is not None,
        "spend": _run_spend(steps),
    }


def _sleeping_step(trace: dict[str, Any]) -> dict[str, Any] | None:
    """The step a sleeping run sleeps in (the owner may wake it now)."""
    if trace["status"] != "sleeping":
        return None
    step = next((s for s in trace["steps"] if s.get("status") == "sleeping"), None)
    return {"step": step["key"], "until": step.get("until")} if step else None


def _awaited(trace: dict[str, Any]) -> dict[str, Any] | None:
    """The event a waiting run waits for, with the value it must match and the data of an
    event that answers it (for the pre-filled send form)."""
    if trace["status"] != "waiting":
        return None
    step = next((s for s in trace["steps"] if s.get("status") == "waiting" and s.get("wait")),
                None)
    if step is None:
        return None
    wait = step["wait"]
    answer = waits.answer(wait, trace["event"])
    return {"step": step["key"], "event": wait["event"], "match": wait.get("match"),
            "if": wait.get("if"), "expected": waits.expected(wait, trace["event"]),
            "expires": wait.get("expires"), "data": json.dumps(answer, indent=2)}


def _run_spend(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """LLM calls and cost of this run, summed over its steps (None when it made none)."""
    calls = [s["llm"] for s in steps if isinstance(s.get("llm"), dict)]
    if not calls:
        return None
    return {"calls": sum(int(c.get("calls", 0)) for c in calls),
            "tokens": sum(int(c.get("input_tokens", 0)) + int(c.get("output_tokens", 0))
                          for c in calls),
            "usd": round(sum(float(c.get("cost_usd", 0.0)) for c in calls), 6)}


def events(rt: Runtime, *, name: str | None, prefix: str | None, query: str | None,
           since: float | None, size: int, resend: str | None = None) -> dict[str, Any]:
    """Events, newest first; `query` searches every stored event by data field (`key=value`)
    and word (joelclaw.events.index). `resend` pre-fills the send form with a stored event."""
    if query:
        found = index.search(rt.redis, query, name=name, prefix=prefix, since=since, limit=size)
    else:
        found = list_events(rt.redis, name=name, prefix=prefix, since=since, limit=size)
    return {"filters": {"name": name, "prefix": prefix, "q": query, "since": since,
                        "limit": size, "searched": "every stored event" if query else None},
            "events": _with_runs(rt, found), "form": _resend_form(rt, resend)}


def _resend_form(rt: Runtime, event_id: str | None) -> dict[str, Any] | None:
    """The send form filled with a stored event (redacted: a value left as shown keeps its
    stored value when sent, see actions.send_event)."""
    if event_id is None:
        return None
    record = get_event(rt.redis, event_id)
    if record is None:
        raise NotFound(f"no event with id {event_id!r} to resend (events are kept 7 days)")
    shown = preview(record["event"])
    return {"name": shown["name"], "data": json.dumps(shown.get("data") or {}, indent=2),
            "id": "", "resend_of": event_id}


def event(rt: Runtime, event_id: str) -> dict[str, Any]:
    record = get_event(rt.redis, event_id)
    if record is None:
        raise NotFound(f"no event with id {event_id!r} (events are kept 7 days, and the log "
                       f"holds the latest {rt.settings.runs.event_log_cap})")
    return _with_runs(rt, [record])[0]


def _with_runs(rt: Runtime, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [run_id for record in records for run_id in record.get("runs", [])]
    heads = dict(zip(ids, run_heads(rt, ids), strict=True))
    out = []
    for record in records:
        started = []
        for run_id in record.get("runs", []):
            head = heads.get(run_id)
            started.append({"id": run_id, "function": head.function if head else None,
                            "status": head.status if head else "expired"})
        out.append({"event": preview(record["event"]), "received_at": record.get("received_at"),
                    "duplicates": record.get("duplicates", 0), "runs": started,
                    "deduplicated": record.get("deduplicated") or {},
                    "forgotten": record.get("forgotten")})
    return out


def needs_me(rt: Runtime) -> dict[str, Any]:
    """What waits on the owner (joelclaw.insight.needs), redacted like every view."""
    found = redact(needs.needs_me(rt), configured_secrets(rt.settings))
    for item in found["waiting"]:
        item["data"] = json.dumps(item.pop("answer"), indent=2)
    found["bulk"] = [job for job in bulk.recent(rt, 5) if job["status"] != "done"]
    return found


def gateway(rt: Runtime) -> dict[str, Any]:
    return gateway_view(rt)


def memory(rt: Runtime, limit: int = 100) -> dict[str, Any]:
    try:
        queue = review_queue(rt)
    except ReviewUnavailable as exc:
        return {"available": False, "reason": str(exc), "proposals": []}
    return {"available": True, "reason": None,
            "proposals": [p.to_dict() for p in queue.pending(limit)]}
