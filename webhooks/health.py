"""`GET /health`: can this system do work right now? Each component reports `ok`, a `status`
and its probe latency; the answer is 200 when every core component is ok and 503 naming the
failing ones (`failing`) otherwise.

Core: Redis (run state), the broker, workers (seen in `keys.WORKERS_SEEN` within 30 s; their
sweeper loop writes it every fraction of a second) and beat (`keys.BEAT_TICK` within 90 s, a few
missed 30 s ticks). Optional: the gateway and Typesense. The gateway is *expected* only when
Telegram is configured (`JOELCLAW_TELEGRAM_TOKEN`), since the Telegram conversation is what it
serves; then a heartbeat older than `gateway_heartbeat_stale_seconds` makes it `degraded`;
otherwise it is `not_expected`. Typesense is checked only when `JOELCLAW_TYPESENSE_URL` is set.
A failing optional component makes the report `degraded` but keeps the 200: webhooks, the API
and the bus still work without them, and a load balancer must not take the front door away for
a notification channel.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import redis
from flask import Blueprint, Response, jsonify

from joelclaw import keys
from joelclaw.errors import ConfigError
from joelclaw.runtime import Runtime
from webhooks.app import runtime

WORKER_STALE_SECONDS = 30.0
BEAT_STALE_SECONDS = 90.0
GATEWAY_STALE_SECONDS = 180.0  # used when settings lack gateway_heartbeat_stale_seconds
FORGET_WORKER_SECONDS = 24 * 3600.0  # hosts gone longer than this no longer show up
PROBE_TIMEOUT_SECONDS = 2.0
OPTIONAL = ("gateway", "typesense")

blueprint = Blueprint("health", __name__)
Probe = Callable[[Runtime, float], dict[str, Any]]


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    report = check(runtime())
    return jsonify(report), 200 if report["ok"] else 503


def check(rt: Runtime, now: float | None = None) -> dict[str, Any]:
    """The health report; each component says whether it is ok and why not."""
    now = time.time() if now is None else now
    components = {"redis": redis_status(rt)}
    probes: dict[str, Probe] = {"broker": broker_status, "workers": workers_status,
                                "beat": beat_status, "gateway": gateway_status}
    for name, probe in probes.items():
        if components["redis"]["ok"] or name == "broker":
            components[name] = _guarded(probe, rt, now)
        else:
            components[name] = {"ok": False, "status": "down", "error": "redis unreachable"}
    if rt.settings.typesense_url:
        components["typesense"] = _guarded(typesense_status, rt, now)
    failing = sorted(n for n, c in components.items() if not c["ok"] and n not in OPTIONAL)
    degraded = sorted(n for n, c in components.items() if not c["ok"] and n in OPTIONAL)
    status = "down" if failing else "degraded" if degraded else "ok"
    return {"ok": not failing, "status": status, "failing": failing, "degraded": degraded,
            "components": components}


def _timed(probe: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = probe()
    return value, round((time.perf_counter() - start) * 1000, 2)


def redis_status(rt: Runtime) -> dict[str, Any]:
    try:
        latency = rt.ping()
    except (ConfigError, redis.RedisError) as exc:
        return {"ok": False, "status": "down", "latency_ms": None, "error": str(exc)}
    return {"ok": True, "status": "ok", "latency_ms": round(latency, 2)}


def broker_status(rt: Runtime, now: float) -> dict[str, Any]:
    """The broker is the run-state Redis unless JOELCLAW_BROKER_URL says otherwise."""
    url = rt.settings.broker_url
    if not url or url == rt.redis_url:
        result = redis_status(rt)
        return {**result, "shared_with_redis": True}
    from kombu import Connection

    def connect() -> None:
        with Connection(url, connect_timeout=PROBE_TIMEOUT_SECONDS) as conn:
            conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)

    try:
        _, latency = _timed(connect)
    except Exception as exc:  # kombu raises transport-specific errors
        return {"ok": False, "status": "down", "latency_ms": None, "error": type(exc).__name__,
                "shared_with_redis": False}
    return {"ok": True, "status": "ok", "latency_ms": latency, "shared_with_redis": False}


def workers_status(rt: Runtime, now: float) -> dict[str, Any]:
    raw, latency = _timed(lambda: rt.redis.hgetall(keys.WORKERS_SEEN))
    seen: dict[str, float] = {}
    for host, stamp in raw.items():
        age = max(0.0, now - float(stamp))
        if age < FORGET_WORKER_SECONDS:
            seen[host.decode()] = round(age, 1)
    alive = sum(1 for age in seen.values() if age <= WORKER_STALE_SECONDS)
    return {"ok": alive > 0, "status": "ok" if alive else "down", "alive": alive, "seen": seen,
            "latency_ms": latency}


def beat_status(rt: Runtime, now: float) -> dict[str, Any]:
    stamp, latency = _timed(lambda: rt.redis.get(keys.BEAT_TICK))
    age = None if stamp is None else round(max(0.0, now - float(stamp)), 1)
    ok = age is not None and age <= BEAT_STALE_SECONDS
    return {"ok": ok, "status": "ok" if ok else "down", "age_s": age, "latency_ms": latency}


def gateway_status(rt: Runtime, now: float) -> dict[str, Any]:
    stamp, latency = _timed(lambda: rt.redis.get(keys.GATEWAY_HEARTBEAT))
    age = None if stamp is None else round(max(0.0, now - float(stamp)), 1)
    expected = bool(rt.settings.telegram_token)
    stale = getattr(rt.settings, "gateway_heartbeat_stale_seconds", GATEWAY_STALE_SECONDS)
    alive = age is not None and age <= stale
    status = "ok" if alive else "degraded" if expected else "not_expected"
    return {"ok": alive or not expected, "status": status, "expected": expected, "age_s": age,
            "latency_ms": latency}


def typesense_status(rt: Runtime, now: float) -> dict[str, Any]:
    url = str(rt.settings.typesense_url).rstrip("/") + "/health"
    headers = {"X-TYPESENSE-API-KEY": rt.settings.typesense_api_key or ""}
    try:
        response, latency = _timed(
            lambda: httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_SECONDS))
    except httpx.HTTPError as exc:
        return {"ok": False, "status": "degraded", "latency_ms": None,
                "error": type(exc).__name__}
    ok = response.status_code == 200
    return {"ok": ok, "status": "ok" if ok else "degraded", "latency_ms": latency,
            "http_status": response.status_code}


def _guarded(probe: Probe, rt: Runtime, now: float) -> dict[str, Any]:
    """A failing probe makes its component not ok instead of failing the whole report."""
    try:
        return probe(rt, now)
    except (redis.RedisError, ConfigError, ValueError) as exc:
        return {"ok": False, "status": "down", "error": str(exc)}
