"""Per-function view: triggers, crons with their next fire time, flow-control options, and the
recent runs' counts, failure rate, p50/p95 duration and last run.

"Recent" is a bounded sample: the newest `sample` runs of each function within `window` seconds,
read from the function's own index, so the cost does not grow with the number of runs stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.runs import TERMINAL, Run
from joelclaw.insight.records import run_heads

if TYPE_CHECKING:
    from joelclaw.bus.functions import Function, Trigger
    from joelclaw.runtime import Runtime

WINDOW_SECONDS = 24 * 3600.0
SAMPLE = 200
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


def run_stats(runs: Iterable[Run]) -> dict[str, Any]:
    """Counts by status, failure rate among finished runs, p50/p95 of finished durations."""
    by_status: dict[str, int] = {}
    durations: list[float] = []
    total = 0
    last: Run | None = None
    for run in runs:
        total += 1
        last = last or run
        by_status[run.status] = by_status.get(run.status, 0) + 1
        if run.status in TERMINAL and run.duration_ms is not None:
            durations.append(run.duration_ms)
    finished = sum(n for s, n in by_status.items() if s in ("completed", "failed"))
    failed = by_status.get("failed", 0)
    return {
        "count": total, "by_status": by_status, "failed": failed,
        "failure_rate": round(failed / finished, 4) if finished else None,
        "p50_ms": percentile(durations, 50), "p95_ms": percentile(durations, 95),
        "last_run": None if last is None else {
            "id": last.id, "status": last.status, "created_at": last.created_at},
    }


def percentile(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return round(ordered[int(rank) - 1], 1)


def function_rows(rt: Runtime, *, now: float | None = None, window: float = WINDOW_SECONDS,
                  sample: int = SAMPLE) -> list[dict[str, Any]]:
    """Every loaded function with its recent run statistics: two round trips in all."""
    now = time.time() if now is None else now
    functions = list(rt.registry)
    pipe = rt.redis.pipeline(transaction=False)
    for fn in functions:
        pipe.zrevrangebyscore(keys.runs_of_function(fn.id), "+inf", (now - window) * 1000,
                              start=0, num=sample)
    pages = [[raw.decode() for raw in ids] for ids in pipe.execute()]
    heads = run_heads(rt, [run_id for page in pages for run_id in page], STAT_FIELDS)
    rows, offset = [], 0
    for fn, page in zip(functions, pages, strict=True):
        runs = [r for r in heads[offset:offset + len(page)] if r is not None]
        offset += len(page)
        stats = run_stats(runs)
        stats["sampled"] = {"window_s": window, "max_runs": sample}
        rows.append({**describe_function(fn, rt.settings.default_retries, now), "recent": stats})
    return rows
