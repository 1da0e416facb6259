"""`GET /metrics` in Prometheus text format, counted in Redis so every gunicorn worker agrees.

Counters are Redis hashes incremented with HINCRBY by the request that observed them (events
received, webhook verifications). Everything else is read at scrape time by a custom collector:
runs by function and status from the newest part of the run index (bounded, a gauge), queue
depths per priority from `joelclaw.queues` (the one place that reads the broker), and step
durations folded into Redis histogram buckets from finished runs (each run once, guarded by
ZADD NX on a "counted" set, so concurrent scrapes never double count).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

import redis
from flask import Blueprint, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from joelclaw import keys, queues
from joelclaw.bus.runs import TERMINAL
from joelclaw.runtime import Runtime
from webhooks.app import runtime

EVENTS = f"{keys.PREFIX}metrics:events"  # hash "name|outcome" -> count
VERIFICATIONS = f"{keys.PREFIX}metrics:verifications"  # hash "provider|result" -> count
STEP_BUCKETS = f"{keys.PREFIX}metrics:steps"  # hash "function|type|le" / "|sum" / "|count"
STEPS_COUNTED = f"{keys.PREFIX}metrics:steps:counted"  # zset run id -> fold time (s)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
RUNS_SCANNED = 1000  # newest runs the runs gauge and the step fold look at per scrape
SEP = "|"

blueprint = Blueprint("metrics", __name__)


@blueprint.get("/metrics")
def metrics() -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(runtime()))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")


class Tally:
    """Counter increments gathered during one request and written in one round trip."""

    def __init__(self) -> None:
        self.increments: list[tuple[str, str]] = []

    def event(self, name: str, outcome: str) -> None:
        self.increments.append((EVENTS, f"{name}{SEP}{outcome}"))

    def verification(self, provider: str, result: str) -> None:
        self.increments.append((VERIFICATIONS, f"{provider}{SEP}{result}"))

    def flush(self, client: redis.Redis) -> None:
        if not self.increments:
            return
        pipe = client.pipeline(transaction=False)
        for key, field in self.increments:
            pipe.hincrby(key, field, 1)
        pipe.execute()
        self.increments.clear()


def observe_step(client: redis.Redis, function: str, kind: str, seconds: float) -> None:
    """Add one step duration to the Redis histogram (cumulative buckets like Prometheus)."""
    pipe = client.pipeline(transaction=True)
    prefix = f"{function}{SEP}{kind}{SEP}"
    for bound in BUCKETS:
        if seconds <= bound:
            pipe.hincrby(STEP_BUCKETS, f"{prefix}{bound}", 1)
    pipe.hincrby(STEP_BUCKETS, f"{prefix}count", 1)
    pipe.hincrbyfloat(STEP_BUCKETS, f"{prefix}sum", seconds)
    pipe.execute()


class RedisCollector(Collector):
    """Builds every family from Redis at scrape time."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        client = self.rt.redis
        yield _counter("joelclaw_events_received", "Events received over HTTP.",
                       ("name", "outcome"), client.hgetall(EVENTS))
        yield _counter("joelclaw_webhook_verifications", "Webhook signature checks.",
                       ("provider", "result"), client.hgetall(VERIFICATIONS))
        runs = self.rt.runs.list(limit=RUNS_SCANNED)
        yield _runs_gauge(runs)
        fold_steps(client, self.rt, [r.id for r in runs if r.status in TERMINAL])
        yield _step_histogram(client.hgetall(STEP_BUCKETS))
        yield _queue_gauge(queues.depths(self.rt))


def _split(raw: dict[bytes, bytes]) -> Iterator[tuple[list[str], float]]:
    for field, value in raw.items():
        yield field.decode().split(SEP), float(value)


def _counter(name: str, doc: str, labels: tuple[str, ...],
             raw: dict[bytes, bytes]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=labels)
    for parts, value in sorted(_split(raw)):
        if len(parts) == len(labels):
            family.add_metric(parts, value)
    return family


def _runs_gauge(runs: Iterable[Any]) -> GaugeMetricFamily:
    counts: dict[tuple[str, str], int] = {}
    for run in runs:
        counts[(run.function, run.status)] = counts.get((run.function, run.status), 0) + 1
    family = GaugeMetricFamily(
        "joelclaw_runs", f"Runs by function and status among the newest {RUNS_SCANNED}.",
        labels=("function", "status"))
    for (function, status), value in sorted(counts.items()):
        family.add_metric([function, status], value)
    return family


def fold_steps(client: redis.Redis, rt: Runtime, run_ids: list[str]) -> int:
    """Add the steps of finished runs not yet counted to the histogram; returns runs folded."""
    if not run_ids:
        return 0
    now = time.time()
    pipe = client.pipeline(transaction=False)
    for run_id in run_ids:
        pipe.zadd(STEPS_COUNTED, {run_id: now}, nx=True)
    pipe.zremrangebyscore(STEPS_COUNTED, "-inf", now - rt.runs.retention - 3600)
    claimed = [rid for rid, added in zip(run_ids, pipe.execute(), strict=False) if added]
    for run_id in claimed:
        run = rt.runs.get(run_id)
        function = run.function if run else "unknown"
        for step in rt.runs.steps(run_id):
            seconds = step_seconds(step)
            if seconds is not None:
                observe_step(client, function, str(step.get("type", "run")), seconds)
    return len(claimed)


def step_seconds(step: dict[str, Any]) -> float | None:
    """The last attempt's execution time; sleeps and waits are not work and are skipped."""
    if step.get("type") not in (None, "run") or step.get("status") not in ("completed", "failed"):
        return None
    if isinstance(step.get("execution_ms"), int | float):
        return max(0.0, float(step["execution_ms"]) / 1000)
    start, end = step.get("attempt_started_at"), step.get("ended_at")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return max(0.0, end - start)
    return None


def _step_histogram(raw: dict[bytes, bytes]) -> HistogramMetricFamily:
    series: dict[tuple[str, str], dict[str, float]] = {}
    for parts, value in _split(raw):
        if len(parts) == 3:
            series.setdefault((parts[0], parts[1]), {})[parts[2]] = value
    family = HistogramMetricFamily(
        "joelclaw_step_duration_seconds", "Execution time of completed and failed steps.",
        labels=("function", "type"))
    for (function, kind), values in sorted(series.items()):
        buckets = [(str(b), values.get(str(b), 0.0)) for b in BUCKETS]
        buckets.append(("+Inf", values.get("count", 0.0)))
        family.add_metric([function, kind], buckets, values.get("sum", 0.0))
    return family


def _queue_gauge(report: dict[str, Any]) -> GaugeMetricFamily:
    """Per queue and priority step, from `joelclaw.queues` (empty when the broker cannot say)."""
    family = GaugeMetricFamily("joelclaw_queue_depth", "Messages waiting in each broker queue.",
                               labels=("queue", "priority"))
    for queue in report["queues"]:
        for priority, depth in queue.get("by_priority", {}).items():
            family.add_metric([queue["name"], priority], depth)
    return family
