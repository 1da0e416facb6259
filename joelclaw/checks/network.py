"""`network/status-update` (reference #32): a snapshot of what this system runs. The old one
listed k8s pods, launchd daemons and Tailscale peers; here: the Celery nodes by role with their
queues and last stamp, beat, the gateway, Typesense, queue depths and run counts. It is stored
(`keys.NETWORK_STATUS`, JSON) for `joelclaw status`-style views, and never notifies."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from joelclaw import health, keys
from joelclaw.bus.celery import queues

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


def collect(rt: Bus, now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    report = health.check(rt, now)
    nodes = [{k: v for k, v in asdict(n).items() if k != "last_seen"}
             for n in health.nodes(rt, now)]
    depth: dict[str, Any]
    try:
        depth = dict(queues.totals(queues.depths(rt)))
    except Exception as exc:  # a broker that cannot be read is part of the picture
        depth = {"error": type(exc).__name__}
    components = report["components"]
    snapshot = {
        "checked_at": now,
        "status": report["status"],
        "nodes": nodes,
        "roles": {role: health.role_alive(report, role) for role in (health.WORKER,
                                                                      health.GATEWAY)},
        "beat": components.get("beat", {}).get("status"),
        "gateway": components.get("gateway", {}).get("status"),
        "typesense": components.get("typesense", {}).get("status", "not_configured"),
        "queues": depth,
        "runs": rt.runs.counts(limit=1000),
        "runs_stored": rt.runs.stored(),
    }
    return snapshot


def store(rt: Bus, snapshot: dict[str, Any]) -> None:
    rt.redis.set(keys.NETWORK_STATUS, json.dumps(snapshot, default=str),
                 ex=keys.NETWORK_STATUS_TTL)


def last(rt: Bus) -> dict[str, Any] | None:
    raw = rt.redis.get(keys.NETWORK_STATUS)
    return json.loads(raw) if raw else None
