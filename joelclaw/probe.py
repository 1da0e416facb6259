"""Is *this* process healthy? The container healthchecks: `python -m joelclaw.probe <process>`
exits 0 when it is, 1 with one line saying why not.

Each process is judged by its own sign of life, with the staleness rules of `joelclaw.health`,
never by the others': a web container is healthy while it answers `/health` at all (a 503 there
is the workers' fault, and restarting the web would not fix it); a worker or gateway container
while its own Celery node (`worker@<hostname>`, `gateway@<hostname>`, the names compose gives
them) keeps stamping `jc:workers`; beat while its tick is fresh; Flower while `/healthcheck`
answers.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

import httpx
import redis

from joelclaw import health
from joelclaw.config import Settings, load_settings
from joelclaw.errors import ConfigError
from joelclaw.runtime import Runtime

PROCESSES = ("web", "worker", "gateway", "beat", "flower")
TIMEOUT_SECONDS = 5.0


def probe(process: str, settings: Settings, node: str | None = None) -> str | None:
    """None when healthy, else the reason."""
    if process == "web":
        return _http(f"http://127.0.0.1:{settings.web.port}/health", any_json=True)
    if process == "flower":
        return _http(f"http://127.0.0.1:{settings.flower.port}/healthcheck")
    rt = Runtime(settings)
    now = time.time()
    if process == "beat":
        beat = health.beat_status(rt, now)
        if beat["ok"]:
            return None
        return "beat has never ticked" if beat["age_s"] is None else (
            f"beat last ticked {beat['age_s']} s ago")
    name = node or f"{process}@{socket.gethostname()}"
    found = [n for n in health.nodes(rt, now) if n.hostname == name]
    if not found:
        return f"{name} has never stamped jc:workers"
    if not found[0].alive:
        return f"{name} last stamped {found[0].age_s} s ago"
    return None


def _http(url: str, any_json: bool = False) -> str | None:
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return f"{url}: {type(exc).__name__}"
    if any_json:  # 200 or 503: the web process answered with its report
        try:
            response.json()
        except ValueError:
            return f"{url}: HTTP {response.status_code}, not a health report"
        return None
    return None if response.status_code == 200 else f"{url}: HTTP {response.status_code}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m joelclaw.probe", description=__doc__)
    parser.add_argument("process", choices=PROCESSES)
    parser.add_argument("--node", help="Celery node name (default: <process>@<hostname>)")
    args = parser.parse_args(argv)
    try:
        reason = probe(args.process, load_settings(), args.node)
    except (ConfigError, redis.RedisError) as exc:
        reason = str(exc)
    if reason is None:
        return 0
    print(f"unhealthy: {reason}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
