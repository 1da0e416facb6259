"""Reading telemetry for `joelclaw otel` and the o11y triage: recent events, a text search,
counts by level/component, and LLM spend per day and function. Read-only, except that queued
events are flushed into Typesense first (so what was just recorded can be found)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from joelclaw.integrations.http import HTTPNotFound
from joelclaw.telemetry import spend
from joelclaw.telemetry.events import flush
from joelclaw.telemetry.schema import COLLECTION

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.integrations.typesense import SearchClient

QUERY_BY = "search_text,component,action,error"


def _filters(*, hours: float | None, level: str | None = None, component: str | None = None,
             source: str | None = None, success: bool | None = None,
             from_ms: int | None = None) -> str:
    parts = []
    if from_ms is not None:
        parts.append(f"timestamp:>={from_ms}")
    elif hours:
        parts.append(f"timestamp:>={int((time.time() - hours * 3600) * 1000)}")
    for name, value in (("level", level), ("component", component), ("source", source)):
        if value:
            parts.append(f"{name}:=`{value.replace('`', '')}`")
    if success is not None:
        parts.append(f"success:={'true' if success else 'false'}")
    return " && ".join(parts)


def _row(hit: dict[str, Any]) -> dict[str, Any]:
    doc = dict(hit["document"])
    raw = doc.pop("metadata_json", None)
    doc["metadata"] = json.loads(raw) if raw else {}
    doc.pop("search_text", None)
    doc.pop("metadata_keys", None)
    return doc


def events(search: SearchClient, query: str = "*", *, limit: int = 20, page: int = 1,
           oldest_first: bool = False, **filters: Any) -> dict[str, Any]:
    """Events newest first (or oldest first). Events recorded in the same millisecond come in
    the order they were stored (`_seq_id`; a flush keeps the emit order): on a timestamp tie
    alone Typesense puts the last stored first, so "oldest first" was not."""
    order = "asc" if oldest_first else "desc"
    params: dict[str, Any] = {"q": query or "*", "query_by": QUERY_BY,
                              "sort_by": f"timestamp:{order},_seq_id:{order}",
                              "per_page": limit, "page": page}
    if (where := _filters(**filters)):
        params["filter_by"] = where
    try:
        answer = search.search(COLLECTION, params)
    except HTTPNotFound:  # nothing was ever recorded
        return {"found": 0, "events": []}
    return {"found": int(answer.get("found", 0)),
            "events": [_row(h) for h in answer.get("hits", [])]}


def counts(search: SearchClient, *, hours: float) -> dict[str, Any]:
    params = {"q": "*", "query_by": QUERY_BY, "per_page": 0, "max_facet_values": 20,
              "facet_by": "level,component,success,action",
              "filter_by": _filters(hours=hours)}
    try:
        answer = search.search(COLLECTION, params)
    except HTTPNotFound:
        return {"found": 0}
    out: dict[str, Any] = {"found": int(answer.get("found", 0))}
    for facet in answer.get("facet_counts", []):
        out[facet["field_name"]] = {c["value"]: c["count"] for c in facet["counts"]}
    return out


def stats(bus: Bus, search: SearchClient | None, *, days: int = 7,
          hours: float = 24) -> dict[str, Any]:
    dates = spend.recent_days(bus, days)
    today = spend.today(bus.settings)
    if today not in dates:
        dates = [today, *dates][:days]
    per_day = [spend.day_stats(bus, d) for d in dates]
    functions: dict[str, dict[str, float]] = {}
    for day in per_day:
        for name, row in day["functions"].items():
            into = functions.setdefault(name, {"usd": 0.0, "calls": 0, "tokens": 0})
            for metric in into:
                into[metric] += row[metric]
    budget = bus.settings.llm.daily_budget_usd
    result: dict[str, Any] = {
        "spend": {"days": per_day, "functions": {k: {**v, "usd": round(v["usd"], 6)}
                                                 for k, v in sorted(functions.items())},
                  "budget_usd": budget,
                  "today_usd": per_day[0]["usd"] if per_day else 0.0,
                  "today_share": (round(per_day[0]["usd"] / budget, 4)
                                  if budget and per_day else None)},
        "events": None, "window_hours": hours,
    }
    if search is not None:
        result["events"] = counts(search, hours=hours)
    return result


FLUSH_WAIT = 30.0  # seconds a reader waits for a flusher already importing


def flushed(bus: Bus, search: SearchClient) -> int:
    """Store what is queued now, after any import in flight, so a query sees every event
    recorded before it (a worker's flusher may hold events it has taken but not stored yet)."""
    return flush(bus.redis, search, wait=FLUSH_WAIT)
