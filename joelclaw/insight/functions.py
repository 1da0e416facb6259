"""Per-function view: triggers, crons with their next fire time, flow-control options, and its
runs of the last 24 hours: how many, how they ended, the failure rate, p50/p95 durations (body
apart from the wait before the first start) and the last run.

Nothing is sampled. The window starts on a ten-minute boundary (`window.since`, 24 h to 24 h
10 min ago) and covers the runs created since: how many, from the function's run index (exact);
how those that ended ended and their durations, from counters each run adds to when it ends, in
the ten-minute bucket of its creation (`joelclaw.bus.records.metrics.run_ended`); the rest are
still in progress. The cost does not grow with the number of runs.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.records import Run, metrics
from joelclaw.events import index_backlog
from joelclaw.insight.records import run_heads

if TYPE_CHECKING:
    from joelclaw.bus.functions import Function, Trigger
    from joelclaw.runtime import Runtime

WINDOW_SECONDS = 24 * 3600
STAT_FIELDS = ("id", "function", "status", "created_at", "ended_at")


def describe_function(fn: Function, default_retries: int, now: float) -> dict[str, Any]:
    """What a function is: its triggers (crons with next fire time), options, queue, retries."""
    return {
        "id": fn.id, "description": fn.description, "task": fn.task_name, "queue": fn.queue,
        "retries": default_retries if fn.retries is None else fn.retries,
        "triggers": [trigger_view(t, now) for t in fn.triggers],
        "flow": json.loads(json.dumps(fn.options, default=str)),
    }


def trigger_view(trigger: Trigger, now: float) -> dict[str, Any]:
    if trigger.cron:
        from joelclaw.bus.functions import next_fire

        fire = next_fire(trigger.cron, trigger.timezone, datetime.fromtimestamp(now, UTC))
        return {"kind": "cron", "cron": trigger.cron, "timezone": trigger.timezone,
                "next_fire": fire.timestamp(), "next_fire_local": fire.isoformat(),
                "catch_up": trigger.catch_up, "catch_up_cap": trigger.catch_up_cap,
                "text": trigger.describe()}
    if trigger.absent:
        return {"kind": "absent", "event": trigger.absent, "for_s": trigger.absent_for,
                "key": trigger.absent_key.source if trigger.absent_key else None,
                "if": trigger.filter.source if trigger.filter else None,
                "text": trigger.describe()}
    return {"kind": "event", "event": trigger.event,
            "if": trigger.filter.source if trigger.filter else None, "text": trigger.describe()}


def function_rows(rt: Runtime, *, now: float | None = None,
                  window: float = WINDOW_SECONDS) -> list[dict[str, Any]]:
    """Every loaded function with its run statistics over the whole window: two round trips,
    whatever the number of runs."""
    now = time.time() if now is None else now
    return [{**describe_function(fn, rt.settings.runs.default_retries, now), "recent": stats}
            for fn, stats in recent_stats(rt, now=now, window=window)]


def recent_stats(rt: Runtime, *, now: float | None = None, window: float = WINDOW_SECONDS
                 ) -> list[tuple[Function, dict[str, Any]]]:
    """Each loaded function's run statistics over the window (`function_rows` without the
    description: `joelclaw functions` describes them itself, computing no cron's next fire)."""
    now = time.time() if now is None else now
    step = keys.FUNCTION_STATS_BUCKET
    current = int(now // step) * step
    since = current - int(window)
    functions = list(rt.registry)
    metrics.catch_up(rt.redis)  # every run that ended before this look is counted
    index_backlog.catch_up(rt.redis)  # and every run created before it
    pipe = rt.redis.pipeline(transaction=False)
    for bucket in range(since, current + step, step):
        pipe.hgetall(keys.function_stats(bucket))
    for fn in functions:
        pipe.zcount(keys.runs_of_function(fn.id), since * 1000, "+inf")
        pipe.zrevrange(keys.runs_of_function(fn.id), 0, 0)
    replies = pipe.execute()
    count = (current - since) // step + 1
    ended = _merge(replies[:count])
    per_fn = [replies[count + 2 * i: count + 2 * i + 2] for i in range(len(functions))]
    lasts = [ids[0].decode() if ids else None for _, ids in per_fn]
    heads = iter(run_heads(rt, [i for i in lasts if i], STAT_FIELDS))
    rows = []
    for fn, (created, _), last_id in zip(functions, per_fn, lasts, strict=True):
        last = next(heads) if last_id else None
        stats = run_stats(ended.get(fn.id, {}), created=int(created), last=last)
        stats["window"] = {"since": since, "until": now, "seconds": round(now - since, 1)}
        rows.append((fn, stats))
    return rows


Ended = dict[str, dict[str, int]]  # "status" / "body" / "before_start" -> value -> runs


def _merge(buckets: list[dict[bytes, bytes]]) -> dict[str, Ended]:
    """Per function: its ended runs by outcome, body bucket and wait bucket, over the buckets
    (fields "function|status|body|wait", see `joelclaw.bus.records.metrics.run_ended`)."""
    out: dict[str, Ended] = {}
    for raw in buckets:
        for field, value in raw.items():
            function, status, body, waited = field.decode().rsplit(metrics.SEP, 3)
            mine = out.setdefault(function, {"status": {}, "body": {}, "before_start": {}})
            for kind, name in (("status", status), ("body", body), ("before_start", waited)):
                if name != metrics.NEVER:
                    mine[kind][name] = mine[kind].get(name, 0) + int(value)
    return out


def run_stats(ended: Ended, *, created: int, last: Run | None) -> dict[str, Any]:
    """The runs created in the window: how many, how those that ended ended, how many are still
    going, the failure rate among finished ones, and p50/p95 of two durations kept apart: the
    body (time in the function's own code, all executions) and the wait before it first ran
    (broker queue and flow-control holds). Percentiles come from log buckets."""
    by_status = dict(sorted(ended.get("status", {}).items()))
    count_ended = sum(by_status.values())
    finished = by_status.get("completed", 0) + by_status.get("failed", 0)
    failed = by_status.get("failed", 0)
    return {
        "count": created, "ended": count_ended, "by_status": by_status,
        "in_progress": max(0, created - count_ended), "failed": failed,
        "failure_rate": round(failed / finished, 4) if finished else None,
        "durations": {name: _percentiles(ended.get(name, {}))
                      for name in ("body", "before_start")},
        "precision": "percentiles from log buckets: within about ±9%",
        "last_run": None if last is None else {
            "id": last.id, "status": last.status, "created_at": last.created_at},
    }


def _percentiles(hist: dict[str, int]) -> dict[str, float | None]:
    counts = sorted((int(index), n) for index, n in hist.items())
    return {"p50_ms": _rank(counts, 50), "p95_ms": _rank(counts, 95),
            "runs": sum(n for _, n in counts)}


def _rank(counts: list[tuple[int, int]], pct: float) -> float | None:
    """Nearest-rank percentile over bucket counts: the middle of the bucket holding it."""
    total = sum(n for _, n in counts)
    if not total:
        return None
    rank, seen = max(1, -(-total * pct // 100)), 0
    for index, n in counts:
        seen += n
        if seen >= rank:
            return round(metrics.bucket_value(index), 1)
    return None
