"""What every benchmark here shares: its own Redis and environment, Celery workers started and
stopped as process groups, and the throughput loop (count `bench:done` up to N)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
_marks: dict[str, redis.Redis] = {}


def marks(url: str | None) -> redis.Redis:
    """The benchmark's own connection for the marks and counters its functions record (one per
    process): what is measured goes through the engine, the measuring does not."""
    if url is None:
        raise RuntimeError("the benchmarks run with JOELCLAW_REDIS_URL set (bench.harness)")
    client = _marks.get(url)
    if client is None:
        client = _marks[url] = redis.Redis.from_url(url)
    return client


def environment(tmp: Path, modules: str, appendfsync: str = "everysec"
                ) -> tuple[object, str, dict[str, str]]:
    """Start an embedded Redis under `tmp`; return it, its URL and the workers' environment."""
    from joelclaw.embedded import RedisServer

    server = RedisServer(tmp / "redis", appendfsync=appendfsync)
    url = server.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOELCLAW_")}
    env.update(JOELCLAW_REDIS_URL=url, JOELCLAW_HOME=str(tmp / "home"),
               JOELCLAW_FUNCTION_MODULES=modules, BENCH_REDIS_URL=url, PYTHONPATH=str(ROOT))
    os.environ["BENCH_REDIS_URL"] = url  # bench.plain_app reads it at import
    return server, url, env


def start_worker(app: str, queue: str, concurrency: int, env: dict[str, str],
                 log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "-c",
         str(concurrency), "-l", "warning", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "-n", f"{queue}@%h"],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Warm shutdown, then SIGKILL the whole group if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def throughput(client: redis.Redis, send: Callable[[int], None], count: int) -> float:
    """Send `count` and wait until the workers counted as many in `bench:done`; runs per second."""
    client.delete("bench:done")
    began = time.perf_counter()
    for i in range(count):
        send(i)
    deadline = time.time() + 300
    while int(client.get("bench:done") or 0) < count:
        if time.time() > deadline:
            raise SystemExit("runs did not finish; see the worker log in the temp dir")
        time.sleep(0.01)
    return count / (time.perf_counter() - began)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
