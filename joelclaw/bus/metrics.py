"""Metrics the bus records when things happen, in the same pipeline as the write that made
them true: a step's duration when it ends, a run's outcome when it ends. A scrape of `/metrics`
only reads them (see `read_step_histogram`), so scraping costs no writes and no run scans.
"""

from __future__ import annotations

from typing import Any

import redis

from joelclaw import keys

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
SEP = "|"
TIMED_STEPS = frozenset({"run"})  # sleeps and waits are not work; members are counted as runs


def _bucket(seconds: float) -> str:
    return next((str(b) for b in BUCKETS if seconds <= b), "+Inf")


def observe_step(pipe: Any, function: str, kind: str, seconds: float) -> None:
    """Count one finished step's execution time (two commands, no round trip of their own)."""
    if kind not in TIMED_STEPS:
        return
    prefix = f"{function}{SEP}{kind}{SEP}"
    pipe.hincrby(keys.METRIC_STEPS, prefix + _bucket(seconds), 1)
    pipe.hincrbyfloat(keys.METRIC_STEPS, prefix + "sum", seconds)


def count_run(pipe: Any, function: str, status: str) -> None:
    """Count a run that ended (completed, failed, cancelled or skipped)."""
    pipe.hincrby(keys.METRIC_RUNS, f"{function}{SEP}{status}", 1)


def read_runs(client: redis.Redis) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for field, value in client.hgetall(keys.METRIC_RUNS).items():
        function, _, status = field.decode().rpartition(SEP)
        out[(function, status)] = int(value)
    return out


def read_step_histogram(client: redis.Redis
                        ) -> dict[tuple[str, str], tuple[list[tuple[str, float]], float]]:
    """(function, type) → (cumulative buckets ending with +Inf, sum of seconds)."""
    raw: dict[tuple[str, str], dict[str, float]] = {}
    for field, value in client.hgetall(keys.METRIC_STEPS).items():
        parts = field.decode().split(SEP)
        if len(parts) == 3:
            raw.setdefault((parts[0], parts[1]), {})[parts[2]] = float(value)
    out = {}
    for series, values in raw.items():
        total, buckets = 0.0, []
        for bound in [*(str(b) for b in BUCKETS), "+Inf"]:
            total += values.get(bound, 0.0)
            buckets.append((bound, total))
        out[series] = (buckets, values.get("sum", 0.0))
    return out
