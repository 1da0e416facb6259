"""`GET /metrics` in Prometheus text format, counted in Redis so every gunicorn worker agrees.

Counters are Redis hashes incremented where things happen: by the request that observed them
(events received, webhook verifications), by the bus from the write that ended a step or a run
(step durations, finished runs, queued there on a backlog that a scrape applies before it reads:
see joelclaw.bus.records.metrics), and by the tiered cache of every process (hits, misses and
errors per tier, added to Redis about once a second; see joelclaw.cache.stats). A scrape reads
those counters, the statuses of the newest runs (bounded), and queue depths per priority from
`joelclaw.bus.celery.queues` (the one place that reads the broker).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Response, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from joelclaw import keys
from joelclaw.bus.celery import queues
from joelclaw.bus.records import metrics as bus_metrics
from joelclaw.cache.stats import TIERS, read_stats
from joelclaw.runtime import Runtime
from webhooks import access
from webhooks.app import runtime
from webhooks.dashboard.security import logged_in

RUNS_SCANNED = 200  # newest runs the in-flight gauge looks at per scrape
SEP = "|"

blueprint = Blueprint("metrics", __name__)


@blueprint.before_request
def _require_token() -> tuple[Response, int] | None:
    """Behind the token like every view (`webhooks.access`): Prometheus sends it as
    `authorization: {credentials: ...}` in its scrape config."""
    return access.require(logged_in=logged_in(request))


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
        self.increments.append((keys.METRIC_EVENTS, f"{name}{SEP}{outcome}"))

    def verification(self, provider: str, result: str) -> None:
        self.increments.append((keys.METRIC_VERIFICATIONS, f"{provider}{SEP}{result}"))

    def flush(self, client: redis.Redis) -> None:
        if not self.increments:
            return
        pipe = client.pipeline(transaction=False)
        for key, field in self.increments:
            pipe.hincrby(key, field, 1)
        pipe.execute()
        self.increments.clear()


class RedisCollector(Collector):
    """Builds every family from Redis at scrape time."""

    def __init__(self, rt: Runtime):
        self.rt = rt

    def collect(self) -> Iterator[Metric]:
        client = self.rt.redis
        yield _counter("joelclaw_events_received", "Events received over HTTP.",
                       ("name", "outcome"), client.hgetall(keys.METRIC_EVENTS))
        yield _counter("joelclaw_webhook_verifications", "Webhook signature checks.",
                       ("provider", "result"), client.hgetall(keys.METRIC_VERIFICATIONS))
        yield _runs_gauge(self.rt)
        yield _finished_counter(client)
        yield _step_histogram(client)
        yield from _cache_counters(client)
        yield from _queue_gauges(queues.depths(self.rt))


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


def _runs_gauge(rt: Runtime) -> GaugeMetricFamily:
    counts: dict[tuple[str, str], int] = {}
    for run in rt.runs.list(limit=RUNS_SCANNED):
        counts[(run.function, run.status)] = counts.get((run.function, run.status), 0) + 1
    family = GaugeMetricFamily(
        "joelclaw_runs", f"Runs by function and status among the newest {RUNS_SCANNED}.",
        labels=("function", "status"))
    for (function, status), value in sorted(counts.items()):
        family.add_metric([function, status], value)
    return family


def _finished_counter(client: redis.Redis) -> CounterMetricFamily:
    family = CounterMetricFamily("joelclaw_runs_finished", "Runs that ended, by outcome.",
                                 labels=("function", "status"))
    for (function, status), value in sorted(bus_metrics.read_runs(client).items()):
        family.add_metric([function, status], value)
    return family


def _step_histogram(client: redis.Redis) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "joelclaw_step_duration_seconds", "Execution time of completed and failed steps.",
        labels=("function", "type"))
    for (function, kind), (buckets, total) in sorted(
            bus_metrics.read_step_histogram(client).items()):
        family.add_metric([function, kind], buckets, total)
    return family


def _cache_counters(client: redis.Redis) -> Iterator[CounterMetricFamily]:
    """The tiered cache: lookups per tier by outcome, and the fetches its misses caused."""
    counts = read_stats(client)
    lookups = CounterMetricFamily(
        "joelclaw_cache_lookups", "Tiered cache lookups by tier (hot, redis, file) and outcome "
        "(hit, miss, error: a broken tier skipped).", labels=("tier", "outcome"))
    for tier in TIERS:
        for outcome in ("hit", "miss", "error"):
            lookups.add_metric([tier, outcome], counts[tier].get(outcome, 0))
    yield lookups
    fetches = CounterMetricFamily("joelclaw_cache_fetches",
                                  "Values fetched after a miss in every tier (one per key).")
    fetches.add_metric([], counts["fetch"].get("count", 0))
    yield fetches


def _queue_gauges(report: dict[str, Any]) -> Iterator[GaugeMetricFamily]:
    """Per queue and priority step, from `joelclaw.bus.celery.queues` (empty when the broker
    cannot say); and the executions in progress, whose messages the workers hold."""
    family = GaugeMetricFamily("joelclaw_queue_depth", "Messages waiting in each broker queue.",
                               labels=("queue", "priority"))
    for queue in report["queues"]:
        for priority, depth in queue.get("by_priority", {}).items():
            family.add_metric([queue["name"], priority], depth)
    yield family
    yield GaugeMetricFamily("joelclaw_executing", "Executions in progress (runs and parallel "
                            "members holding a lease).", value=report["executing"])
