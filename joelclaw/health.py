"""Can this system do work right now? One report, and one staleness rule per component, for
every view of it: `GET /health`, `joelclaw status`, the gateway's Telegram `/status` and
`/health`, and the container healthchecks.

Each component says `ok`, a `status` and what it measured. Core components (Redis, the broker,
the `worker` role, beat) failing make the report `down` (`/health` 503, naming them in
`failing`); optional ones (the gateway, Typesense) make it `degraded` but keep the 200: webhooks,
the API and the bus still work without them, and a load balancer must not take the front door
away for a notification channel.

Workers are seen through `keys.WORKERS_SEEN`: every Celery node's sweeper loop stamps its node
name there several times a second with `{"at": <unix s>, "queues": [...]}`. A node is alive
while its stamp is at most `STALE_SECONDS` (10 s) old; a frozen (SIGSTOPped) or dead node stops
stamping. Beat follows the same rule with its tick stamp (written at least every 2 s).
A node's roles derive from the queues it consumes: `gateway` for the gateway queue,
`worker` for any other, so a live gateway worker never stands in for a frozen main worker.
Stamps without queues (written by an older worker) fall back to the node name's prefix
(`gateway@host` is the gateway).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from joelclaw import durability, keys
from joelclaw.bus.records import presence
from joelclaw.errors import ConfigError
from joelclaw.redisconn.errors import errors as redis_errors

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings
    from joelclaw.integrations.typesense import Endpoint

# One rule for every process that stamps (worker nodes, beat): stale after 10 s without a stamp.
# A sweeper stamps every poll (0.5 s) and beat every tick (at most 2 s apart): many missed
# stamps, never one slow tick, make a process stale.
STALE_SECONDS = 10.0
WORKER_STALE_SECONDS = BEAT_STALE_SECONDS = STALE_SECONDS
FORGET_WORKER_SECONDS = 24 * 3600.0  # nodes gone longer than this no longer show up
PROBE_TIMEOUT_SECONDS = 2.0
WORKER, GATEWAY = "worker", "gateway"  # the roles
OPTIONAL = ("gateway", "typesense", "providers")

Probe = Callable[["Bus", float], dict[str, Any]]


# ---- the report ---------------------------------------------------------------------------

def check(rt: Bus, now: float | None = None) -> dict[str, Any]:
    """The whole report; a component that cannot be probed is not ok, never an exception."""
    now = time.time() if now is None else now
    components: dict[str, dict[str, Any]] = {"redis": redis_status(rt)}
    probes: dict[str, Probe] = {"broker": broker_status, "workers": workers_status,
                                "beat": beat_status, "gateway": gateway_status,
                                "providers": providers_status}
    for name, probe in probes.items():
        if components["redis"]["ok"] or name == "broker":
            components[name] = _guarded(probe, rt, now)
        else:
            components[name] = {"ok": False, "status": "down", "error": "redis unreachable"}
    if _typesense_endpoint(rt.settings) is not None:  # configured, or `up`'s embedded one
        components["typesense"] = _guarded(typesense_status, rt, now)
    failing = sorted(n for n, c in components.items() if not c["ok"] and n not in OPTIONAL)
    degraded = sorted(n for n, c in components.items() if not c["ok"] and n in OPTIONAL)
    status = "down" if failing else "degraded" if degraded else "ok"
    return {"ok": not failing, "status": status, "failing": failing, "degraded": degraded,
            "components": components}


def _guarded(probe: Probe, rt: Bus, now: float) -> dict[str, Any]:
    caught: tuple[type[Exception], ...] = (*redis_errors(), ConfigError, ValueError)
    try:
        return probe(rt, now)
    except caught as exc:
        return {"ok": False, "status": "down", "error": str(exc)}


def _timed(probe: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = probe()
    return value, round((time.perf_counter() - start) * 1000, 2)


def _age(stamp: bytes | None, now: float) -> float | None:
    return None if stamp is None else round(max(0.0, now - float(stamp)), 1)


# ---- redis and the broker -----------------------------------------------------------------

def redis_status(rt: Bus) -> dict[str, Any]:
    """Reachable, and how durable: persistence, eviction policy and what a crash loses."""
    caught: tuple[type[Exception], ...] = (ConfigError, *redis_errors())
    try:
        latency = rt.ping()
        found = durability.read(rt.redis)
    except caught as exc:
        return {"ok": False, "status": "down", "latency_ms": None, "error": str(exc)}
    return {"ok": True, "status": "ok", "latency_ms": round(latency, 2),
            "durability": found.as_dict()}


def broker_status(rt: Bus, now: float) -> dict[str, Any]:
    """The broker is the run-state Redis unless JOELCLAW_BROKER_URL says otherwise."""
    url = rt.broker_url
    if url == rt.redis_url:
        return {**redis_status(rt), "shared_with_redis": True}
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


# ---- workers, by role ---------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """One Celery node as its sweeper last stamped it."""

    hostname: str  # the Celery node name, `worker@host`
    last_seen: float
    age_s: float
    alive: bool
    queues: list[str] | None  # None: stamped by a worker that did not say
    roles: list[str]


def roles_of(hostname: str, queues: list[str] | None) -> list[str]:
    if queues is None:
        return [GATEWAY if hostname.startswith(f"{GATEWAY}@") else WORKER]
    roles = [WORKER] if any(q != keys.GATEWAY_QUEUE for q in queues) else []
    return [*roles, GATEWAY] if keys.GATEWAY_QUEUE in queues else roles


def nodes(rt: Bus, now: float | None = None) -> list[Node]:
    """Every node seen within a day, by name; a stamp nobody can read is skipped."""
    now = time.time() if now is None else now
    found = []
    for name, seen in sorted(presence.read_all(rt.redis).items()):
        age = max(0.0, now - seen.at)
        if age < FORGET_WORKER_SECONDS:
            found.append(Node(name, seen.at, round(age, 1), age <= WORKER_STALE_SECONDS,
                              seen.queues, roles_of(name, seen.queues)))
    return found


def workers_status(rt: Bus, now: float) -> dict[str, Any]:
    """Core: at least one live node in the `worker` role. The `gateway` role is reported beside
    it (expected when Telegram is configured) but is the gateway component's concern: its
    heartbeat, written by that worker, is what degrades the report."""
    seen, latency = _timed(lambda: nodes(rt, now))
    roles = {role: _role(seen, role) for role in (WORKER, GATEWAY)}
    expected = bool(rt.settings.telegram.token)
    roles[GATEWAY]["expected"] = expected
    if not roles[GATEWAY]["alive"] and not expected:
        roles[GATEWAY]["status"] = "not_expected"
    ok = roles[WORKER]["ok"]
    return {"ok": ok, "status": "ok" if ok else "down", "alive": sum(1 for n in seen if n.alive),
            "roles": roles, "seen": [asdict(n) for n in seen], "latency_ms": latency}


def _role(seen: list[Node], role: str) -> dict[str, Any]:
    members = [n for n in seen if role in n.roles]
    alive = [n.hostname for n in members if n.alive]
    return {"ok": bool(alive), "status": "ok" if alive else "down", "alive": len(alive),
            "nodes": alive, "stale": [n.hostname for n in members if not n.alive]}


def role_alive(report: dict[str, Any], role: str) -> int:
    """Live nodes in `role` in a report's workers component (0 when it could not be read)."""
    workers = report["components"].get("workers", {})
    return int(workers.get("roles", {}).get(role, {}).get("alive", 0))


# ---- beat, the gateway, typesense ----------------------------------------------------------

def beat_status(rt: Bus, now: float) -> dict[str, Any]:
    stamp, latency = _timed(lambda: rt.redis.get(keys.BEAT_TICK))
    age = _age(stamp, now)
    ok = age is not None and age <= BEAT_STALE_SECONDS
    return {"ok": ok, "status": "ok" if ok else "down", "age_s": age,
            "last_tick": float(stamp) if stamp is not None else None, "latency_ms": latency}


def providers_status(rt: Bus, now: float) -> dict[str, Any]:
    """Optional: the providers' circuit breakers (joelclaw.coordination.breakers); an open one
    degrades."""
    from joelclaw.coordination.breakers import states

    found, latency = _timed(lambda: states(rt))
    opened = sorted(name for name, b in found.items() if b["state"] == "open")
    return {"ok": not opened, "status": "degraded" if opened else "ok", "open": opened,
            "breakers": found, "latency_ms": latency}


def gateway_alive(settings: Settings, age_s: float | None) -> bool:
    """The gateway's one rule: a heartbeat at most `gateway_heartbeat_stale_seconds` old."""
    return age_s is not None and age_s <= settings.gateway.heartbeat_stale_seconds


def gateway_status(rt: Bus, now: float) -> dict[str, Any]:
    """Expected only when Telegram is configured: the conversation is what it serves."""
    stamp, latency = _timed(lambda: rt.redis.get(keys.GATEWAY_HEARTBEAT))
    age = _age(stamp, now)
    expected = bool(rt.settings.telegram.token)
    alive = gateway_alive(rt.settings, age)
    status = "ok" if alive else "degraded" if expected else "not_expected"
    return {"ok": alive or not expected, "status": status, "expected": expected, "age_s": age,
            "latency_ms": latency}


def _typesense_endpoint(settings: Settings) -> Endpoint | None:
    """JOELCLAW_TYPESENSE_URL/_API_KEY, else the URL and key a running `joelclaw up` recorded
    for its embedded Typesense (so `joelclaw status` in another shell sees it too)."""
    from joelclaw.integrations.typesense import resolve_endpoint

    return resolve_endpoint(settings)


def typesense_status(rt: Bus, now: float) -> dict[str, Any]:
    import httpx

    endpoint = _typesense_endpoint(rt.settings)
    if endpoint is None:
        return {"ok": False, "status": "degraded", "latency_ms": None,
                "error": "no Typesense configured or recorded"}
    url = endpoint.url + "/health"
    headers = {"X-TYPESENSE-API-KEY": endpoint.api_key}
    try:
        response, latency = _timed(
            lambda: httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_SECONDS))
    except httpx.HTTPError as exc:
        return {"ok": False, "status": "degraded", "latency_ms": None,
                "error": type(exc).__name__}
    ok = response.status_code == 200
    return {"ok": ok, "status": "ok" if ok else "degraded", "latency_ms": latency,
            "http_status": response.status_code}
