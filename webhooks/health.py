"""`GET /health`: can this system do work right now? 200 when Redis answers, a worker has been
seen recently and beat is ticking; 503 otherwise, with the component that is not ok.

Workers record themselves in `keys.WORKERS_SEEN` from their sweeper loop (every fraction of a
second) and beat writes `keys.BEAT_TICK` at least every 30 s, so the limits below are a few
missed beats, not a guess at load.
"""

from __future__ import annotations

import time
from typing import Any

import redis
from flask import Blueprint, Response, jsonify

from joelclaw import keys
from joelclaw.errors import ConfigError
from joelclaw.runtime import Runtime

WORKER_STALE_SECONDS = 30.0
BEAT_STALE_SECONDS = 90.0
FORGET_WORKER_SECONDS = 24 * 3600.0  # hosts gone longer than this no longer show up

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    from webhooks import runtime

    report = check(runtime())
    return jsonify(report), 200 if report["ok"] else 503


def check(rt: Runtime, now: float | None = None) -> dict[str, Any]:
    """The health report; each component says whether it is ok and why not."""
    now = time.time() if now is None else now
    components = {"redis": redis_status(rt)}
    if components["redis"]["ok"]:
        components["workers"] = _guarded(workers_status, rt, now)
        components["beat"] = _guarded(beat_status, rt, now)
    else:
        unreachable = "redis unreachable"
        components["workers"] = {"ok": False, "alive": 0, "seen": {}, "error": unreachable}
        components["beat"] = {"ok": False, "age_s": None, "error": unreachable}
    return {"ok": all(c["ok"] for c in components.values()), "components": components}


def redis_status(rt: Runtime) -> dict[str, Any]:
    try:
        latency = rt.ping()
    except (ConfigError, redis.RedisError) as exc:
        return {"ok": False, "latency_ms": None, "error": str(exc)}
    return {"ok": True, "latency_ms": round(latency, 2)}


def workers_status(rt: Runtime, now: float) -> dict[str, Any]:
    seen: dict[str, float] = {}
    for host, stamp in rt.redis.hgetall(keys.WORKERS_SEEN).items():
        age = max(0.0, now - float(stamp))
        if age < FORGET_WORKER_SECONDS:
            seen[host.decode()] = round(age, 1)
    alive = sum(1 for age in seen.values() if age <= WORKER_STALE_SECONDS)
    return {"ok": alive > 0, "alive": alive, "seen": seen}


def beat_status(rt: Runtime, now: float) -> dict[str, Any]:
    stamp = rt.redis.get(keys.BEAT_TICK)
    if stamp is None:
        return {"ok": False, "age_s": None}
    age = max(0.0, now - float(stamp))
    return {"ok": age <= BEAT_STALE_SECONDS, "age_s": round(age, 1)}


def _guarded(probe: Any, rt: Runtime, now: float) -> dict[str, Any]:
    """A failing probe makes its component not ok instead of failing the whole report."""
    try:
        result: dict[str, Any] = probe(rt, now)
    except (redis.RedisError, ValueError) as exc:
        return {"ok": False, "error": str(exc)}
    return result
