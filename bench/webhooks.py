"""Webhook benchmark: verified GitHub deliveries through gunicorn into the broker, next to a bare
Flask endpoint that only enqueues a plain Celery task, in the same run.

    python bench/webhooks.py [--requests 3000] [--threads 8] [--workers 2] [--worker-class sync]

Starts its own Redis and two gunicorns (`-w 2` each) on free loopback ports, both with the
worker settings `joelclaw up` uses (`joelclaw/webserver.py`: gevent) unless `--worker-class sync`
asks for gunicorn's default. The joelclaw side
posts a signed `workflow_run` delivery (a fresh X-GitHub-Delivery each time, so each is a new
event that starts the built-in `github/workflow_run.completed` function: its run is stored and
its message published to the broker); the plain side posts to `/enqueue`, which calls
`plain.one.delay()`. No Celery worker runs, so every accepted request leaves exactly one message
in its queue; the table counts them. A bounded loop of httpx clients in a thread pool, against
127.0.0.1 only, measures requests per second and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from joelclaw.embedded import RedisServer, free_port  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "github" / "workflow_run_completed.json"
SECRET = "bench-github-secret"
PRIORITIES = range(10)


def plain_flask_app() -> Any:
    """The baseline: one route that enqueues a plain Celery task and nothing else."""
    from flask import Flask

    from bench.plain_app import one

    app = Flask("plain")

    @app.post("/enqueue")
    def enqueue() -> tuple[str, int]:
        one.delay(0)
        return '{"ok": true}', 200

    return app


def start_gunicorn(target: str, port: int, workers: int, env: dict[str, str],
                   log: Path, worker_class: str = "gevent") -> subprocess.Popen[bytes]:
    model = ["-c", "python:joelclaw.webserver"] if worker_class == "gevent" else ["-k", "sync"]
    command = [sys.executable, "-m", "gunicorn", *model, "-w", str(workers), "-b",
               f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning", target]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited; see {log}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer; see {log}")


def load(url: str, body: bytes, headers: dict[str, str], count: int, threads: int,
         fresh_delivery: bool) -> dict[str, Any]:
    """`count` POSTs from `threads` clients; returns status counts, rate and latencies."""
    per_thread = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def worker(n: int) -> tuple[list[float], list[int]]:
        latencies, statuses = [], []
        with httpx.Client(timeout=30) as client:
            for _ in range(n):
                sent = dict(headers)
                if fresh_delivery:
                    sent["X-GitHub-Delivery"] = str(uuid.uuid4())
                start = time.perf_counter()
                response = client.post(url, content=body, headers=sent)
                latencies.append((time.perf_counter() - start) * 1000)
                statuses.append(response.status_code)
        return latencies, statuses

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, per_thread))
    elapsed = time.perf_counter() - started
    latencies = sorted(x for lat, _ in results for x in lat)
    statuses = [s for _, st in results for s in st]
    return {"requests": len(statuses), "ok": statuses.count(200), "seconds": elapsed,
            "rate": len(statuses) / elapsed, "p50": statistics.median(latencies),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]}


def queue_depth(client: redis.Redis, queue: str) -> int:
    return sum(int(client.llen(queue if p == 0 else f"{queue}:{p}")) for p in PRIORITIES)


def report(rows: list[tuple[str, dict[str, Any], int]], args: argparse.Namespace) -> None:
    print(f"\n{args.requests} requests per side, {args.threads} client threads, "
          f"gunicorn -w {args.workers} ({args.worker_class} workers), 127.0.0.1\n")
    header = f"{'endpoint':<34}{'ok':>7}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'in broker':>11}"
    print(header)
    print("-" * len(header))
    for name, result, depth in rows:
        print(f"{name:<34}{result['ok']:>7}{result['rate']:>9.0f}{result['p50']:>9.2f}"
              f"{result['p99']:>9.2f}{depth:>11}")
    joel, plain = rows[0][1], rows[1][1]
    print(f"\njoelclaw/plain: throughput x{joel['rate'] / plain['rate']:.2f}, "
          f"p50 x{joel['p50'] / plain['p50']:.2f}, p99 x{joel['p99'] / plain['p99']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--worker-class", choices=("gevent", "sync"), default="gevent")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="joelclaw-bench-webhooks-"))
    server = RedisServer(tmp / "redis")
    server.start()
    base = server.url.rsplit("/", 1)[0]  # redis://127.0.0.1:<port>
    joel_url, plain_url = f"{base}/0", f"{base}/1"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOELCLAW_")}
    env.update(PYTHONPATH=str(ROOT), JOELCLAW_REDIS_URL=joel_url, BENCH_REDIS_URL=plain_url,
               JOELCLAW_GITHUB_WEBHOOK_SECRET=SECRET, JOELCLAW_HOME=str(tmp / "home"))
    ports = free_port(), free_port()
    procs = [
        start_gunicorn("webhooks:create_app()", ports[0], args.workers, env, tmp / "joel.log",
                       args.worker_class),
        start_gunicorn("bench.webhooks:plain_flask_app()", ports[1], args.workers, env,
                       tmp / "plain.log", args.worker_class),
    ]
    try:
        run(args, ports, procs, tmp, joel_url, plain_url)
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)
        server.stop()


def run(args: argparse.Namespace, ports: tuple[int, int], procs: list[subprocess.Popen[bytes]],
        tmp: Path, joel_url: str, plain_url: str) -> None:
    joel, plain = f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    wait_up(f"{joel}/webhooks", procs[0], tmp / "joel.log")
    wait_up(f"{plain}/", procs[1], tmp / "plain.log")
    body = FIXTURE.read_bytes()
    signed = {"Content-Type": "application/json", "X-GitHub-Event": "workflow_run",
              "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body,
                                                          hashlib.sha256).hexdigest()}
    plain_headers = {"Content-Type": "application/json"}
    load(f"{joel}/webhooks/github", body, signed, args.warmup, args.threads, True)
    load(f"{plain}/enqueue", body, plain_headers, args.warmup, args.threads, False)
    joel_redis, plain_redis = redis.Redis.from_url(joel_url), redis.Redis.from_url(plain_url)
    before = queue_depth(joel_redis, "joelclaw"), queue_depth(plain_redis, "plain")
    joel_result = load(f"{joel}/webhooks/github", body, signed, args.requests, args.threads, True)
    plain_result = load(f"{plain}/enqueue", body, plain_headers, args.requests, args.threads,
                        False)
    after = queue_depth(joel_redis, "joelclaw"), queue_depth(plain_redis, "plain")
    report([("joelclaw POST /webhooks/github", joel_result, after[0] - before[0]),
            ("plain Flask POST /enqueue", plain_result, after[1] - before[1])], args)


if __name__ == "__main__":
    main()
