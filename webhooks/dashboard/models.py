"""What each dashboard page shows, as JSON-ready data: the HTML page renders it and the same
dict is served under /api/dashboard/. Event data and step I/O are redacted previews."""

from __future__ import annotations

import json
from typing import Any

from joelclaw import health, keys
from joelclaw.bus.flow.explain import explain_run
from joelclaw.bus.preview import preview
from joelclaw.bus.runs import STATUSES, TERMINAL
from joelclaw.errors import NotFound
from joelclaw.events.store import get_event, list_events
from joelclaw.insight.functions import function_rows
from joelclaw.insight.gateway import gateway_view
from joelclaw.insight.records import index_page, run_heads
from joelclaw.insight.review import ReviewUnavailable, review_queue
from joelclaw.insight.runs import Cursor, page_runs, run_row
from joelclaw.insight.trace import run_trace
from joelclaw.insight.waterfall import waterfall
from joelclaw.runtime import Runtime

SEARCH_SCAN = 1000  # free-text event search looks at this many of the newest events
NEWEST = 500  # the overview's counts and failures cover this many of the newest runs
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
            "gateway_age_s": parts.get("gateway", {}).get("age_s"),
            "runs_stored": rt.runs.stored(), "wakeups_pending": int(rt.redis.zcard(keys.WAKEUPS)),
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


def functions(rt: Runtime) -> dict[str, Any]:
    return {"functions": function_rows(rt)}


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
                       f"{rt.settings.run_retention_days:g} days)")
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
                                   if terminal and s.get("type") != "parallel.member"]},
        "loaded": rt.function(trace["function"]) is not None,
    }


def events(rt: Runtime, *, name: str | None, prefix: str | None, query: str | None,
           since: float | None, size: int) -> dict[str, Any]:
    if query:
        needle = query.lower()
        scanned = list_events(rt.redis, name=name, prefix=prefix, since=since, limit=SEARCH_SCAN)
        found = [r for r in scanned if needle in json.dumps(r["event"], default=str).lower()]
        found = found[:size]
    else:
        found = list_events(rt.redis, name=name, prefix=prefix, since=since, limit=size)
    return {"filters": {"name": name, "prefix": prefix, "q": query, "since": since,
                        "limit": size, "search_scanned": SEARCH_SCAN if query else None},
            "events": _with_runs(rt, found)}


def event(rt: Runtime, event_id: str) -> dict[str, Any]:
    record = get_event(rt.redis, event_id)
    if record is None:
        raise NotFound(f"no event with id {event_id!r} (events are kept 7 days, and the log "
                       f"holds the latest {rt.settings.event_log_cap})")
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
                    "duplicates": record.get("duplicates", 0), "runs": started})
    return out


def gateway(rt: Runtime) -> dict[str, Any]:
    return gateway_view(rt)


def memory(rt: Runtime, limit: int = 100) -> dict[str, Any]:
    try:
        queue = review_queue(rt)
    except ReviewUnavailable as exc:
        return {"available": False, "reason": str(exc), "proposals": []}
    return {"available": True, "reason": None,
            "proposals": [p.to_dict() for p in queue.pending(limit)]}
