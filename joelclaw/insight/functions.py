"""Per-function view: triggers, crons with their next fire time, flow-control options, and its
runs of the last 24 hours: how many, how they ended, the failure rate, p50/p95 durations (body
apart from the wait before the first start) and the last run.

Nothing is sampled: outcomes and durations are counters every run adds to when it ends (ten-
minute buckets, `joelclaw.bus.metrics.run_ended`), so the window starts on a ten-minute boundary
(`window.since`, 24 h to 24 h 10 min ago); runs started in it are counted from the function's run
index, runs in progress from its live index. The cost does not grow with the number of runs.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus import metrics
from joelclaw.bus.runs import Run
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
        from joelclaw.bus.cron import CronSchedule

        fire = CronSchedule(trigger.cron, trigger.timezone).next_after(
            datetime.fromtimestamp(now, UTC))
        return {"kind": "cron", "cron": trigger.cron, "timezone": trigger.timezone,
                "next_fire": fire.timestamp(), "next_fire_local": fire.isoformat(),
                "text": trigger.describe()}
    return {"kind": "event", "event": trigger.event,
            "if": trigger.filter.source if trigger.filter else None, "text": trigger.describe()}


def function_rows(rt: Runtime, *, now: float | None = None,
                  window: float = WINDOW_SECONDS) -> list[dict[str, Any]]:
    """Every loaded function with its run statistics over the whole window: two round trips,
    whatever the number of runs."""
    now = time.time() if now is None else now
    step = keys.FUNCTION_STATS_BUCKET
    current = int(now // step) * step
    since = current - int(window)
    functions = list(rt.registry)
    pipe = rt.redis.pipeline(transaction=False)
    for bucket in range(since, current + step, step):
        pipe.hgetall(keys.function_stats(bucket))
    for fn in functions:
        pipe.zcount(keys.runs_of_function(fn.id), since * 1000, "+inf")
        pipe.zcard(keys.runs_live(fn.id))
        pipe.zrevrange(keys.runs_of_function(fn.id), 0, 0)
    replies = pipe.execute()
    count = (current - since) // step + 1
    counted = _merge(replies[:count])
    per_fn = [replies[count + 3 * i: count + 3 * i + 3] for i in range(len(functions))]
    lasts = [ids[0].decode() if ids else None for _, _, ids in per_fn]
    heads = iter(run_heads(rt, [i for i in lasts if i], STAT_FIELDS))
    rows = []
    for fn, (created, live, _), last_id in zip(functions, per_fn, lasts, strict=True):
        last = next(heads) if last_id else None
        stats = run_stats(counted.get(fn.id, {}), created=int(created), live=int(live),
                          last=last)
        stats["window"] = {"since": since, "until": now, "seconds": round(now - since, 1)}
        rows.append({**describe_function(fn, rt.settings.default_retries, now), "recent": stats})
    return rows


def _merge(buckets: list[dict[bytes, bytes]]) -> dict[str, dict[str, dict[str, int]]]:
    """function -> kind ("n", "b", "q", "t") -> field -> count, summed over the buckets."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for raw in buckets:
        for field, value in raw.items():
            function, kind, name = field.decode().rsplit(metrics.SEP, 2)
            slot = out.setdefault(function, {}).setdefault(kind, {})
            slot[name] = slot.get(name, 0) + int(value)
    return out


def run_stats(counted: dict[str, dict[str, int]], *, created: int, live: int,
              last: Run | None) -> dict[str, Any]:
    """Counts by outcome of the runs that ended in the window, the failure rate among finished
    ones, and p50/p95 of three durations kept apart: the body (time in the function's own code,
    all executions), the wait before it first ran (broker queue and flow-control holds), and the
    total (creation to end, sleeps and waits included). Percentiles come from log buckets."""
    by_status = dict(sorted(counted.get("n", {}).items()))
    finished = by_status.get("completed", 0) + by_status.get("failed", 0)
    failed = by_status.get("failed", 0)
    return {
        "count": created, "ended": sum(by_status.values()), "by_status": by_status,
        "in_progress": live, "failed": failed,
        "failure_rate": round(failed / finished, 4) if finished else None,
        "durations": {name: _percentiles(counted.get(kind, {}))
                      for name, kind in (("body", "b"), ("before_start", "q"), ("total", "t"))},
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
