"""Dashboard page views with 100,000 runs stored: each page's time beside the raw Redis reads
the same page needs at minimum (one index range and the hashes of the rows shown).

Runs are written with the run store's own encoding (`joelclaw.bus.records.runs.encode`) and index
layout, spread over 20 functions, 1% failed, one event name per function; then each page is
fetched through
the Flask app in-process (no network, so the figures are the server's own cost).

    python bench/dashboard.py [--runs 100000] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from joelclaw import keys
from joelclaw.bus.functions import Registry, function
from joelclaw.bus.records import Run, encode_run
from joelclaw.config import Settings

FUNCTIONS = 20
ROOT = Path(__file__).resolve().parent.parent


def _declare() -> Registry:
    registry = Registry()
    for i in range(FUNCTIONS):
        registry.add(function(f"bench-fn-{i:02d}", trigger=f"bench/event-{i:02d}")(lambda ctx: 0))
    return registry


def fill(client, count: int) -> str:  # type: ignore[no-untyped-def]
    """`count` finished runs, newest last; returns the id of a failed one."""
    now = time.time() - count * 0.01
    failed = ""
    pipe = client.pipeline(transaction=False)
    for i in range(count):
        fn = f"bench-fn-{i % FUNCTIONS:02d}"
        created = now + i * 0.01
        status = "failed" if i % 100 == 7 else "completed"
        run = Run(id=f"run-{int(created * 1000):013d}-{i:08x}", function=fn, status=status,
                  event={"name": f"bench/event-{i % FUNCTIONS:02d}", "id": f"evt-{i}",
                         "data": {"n": i, "note": "x" * 200}},
                  created_at=created, started_at=created + 0.002, ended_at=created + 0.05,
                  executions=1, output={"n": i},
                  error={"name": "RuntimeError", "message": "boom"} if status == "failed"
                  else None)
        failed = run.id if status == "failed" else failed
        pipe.hset(keys.run(run.id), mapping=encode_run(run))
        score = int(created * 1000)
        pipe.zadd(keys.RUN_INDEX, {run.id: score})
        pipe.zadd(keys.runs_of_function(fn), {run.id: score})
        if len(pipe) >= 3000:
            pipe.execute()
    pipe.execute()
    return failed


def timed(call, repeat: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


def raw_page(client, index: str, rows: int) -> None:  # type: ignore[no-untyped-def]
    ids = client.zrevrange(index, 0, rows - 1)
    pipe = client.pipeline(transaction=False)
    for run_id in ids:
        pipe.hgetall(keys.run(run_id.decode()))
    pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    from joelclaw.embedded import RedisServer
    from joelclaw.runtime import Runtime

    sys.path.insert(0, str(ROOT))  # the web app package, not bench/webhooks.py beside us
    from webhooks import create_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    server = RedisServer(tmp / "redis")
    url = server.start()
    try:
        settings = Settings(_env_file=None, home=tmp / "home", redis_url=url)
        app = create_app(settings)
        app.extensions["joelclaw"] = Runtime(settings, registry=_declare())
        rt = app.extensions["joelclaw"]
        began = time.perf_counter()
        failed = fill(rt.redis, args.runs)
        print(f"stored {args.runs} runs in {time.perf_counter() - began:.1f}s "
              f"({rt.redis.zcard(keys.RUN_INDEX)} in the index)")
        http = app.test_client()
        pages = [
            ("/ (overview)", "/", "raw: newest 20 runs", keys.RUN_INDEX, 20),
            ("/functions", "/functions", "raw: newest 200 of one function", None, 200),
            ("/runs", "/runs", "raw: newest 50 runs", keys.RUN_INDEX, 50),
            ("/runs?function=", "/runs?function=bench-fn-03", "raw: newest 50 of one function",
             keys.runs_of_function("bench-fn-03"), 50),
            ("/runs?since=1h", "/runs?since=1h", "raw: newest 50 runs", keys.RUN_INDEX, 50),
            ("/runs?status=failed", "/runs?status=failed", "raw: newest 50 runs",
             keys.RUN_INDEX, 50),
            ("/runs?event=", "/runs?event=bench/event-04", "raw: newest 50 runs",
             keys.RUN_INDEX, 50),
            ("/runs/<failed>", f"/runs/{failed}", "raw: one run hash", None, 1),
            ("/api/dashboard/runs", "/api/dashboard/runs", "raw: newest 50 runs",
             keys.RUN_INDEX, 50),
        ]
        print(f"{'page':24} {'page ms':>9}   {'raw Redis ms':>12}  raw reads")
        for label, path, raw_label, index, rows in pages:
            response = http.get(path)
            assert response.status_code == 200, (path, response.status_code)
            page_ms = timed(lambda p=path: http.get(p), args.repeat)
            if index is None and rows == 1:
                raw_ms = timed(lambda: rt.redis.hgetall(keys.run(failed)), args.repeat)
            elif index is None:
                raw_ms = timed(lambda n=rows: raw_page(rt.redis,
                                                       keys.runs_of_function("bench-fn-01"), n),
                               args.repeat)
                raw_label += f" (x{FUNCTIONS} functions: {raw_ms * FUNCTIONS:.1f} ms)"
            else:
                raw_ms = timed(lambda i=index, n=rows: raw_page(rt.redis, i, n), args.repeat)
            print(f"{label:24} {page_ms:9.1f}   {raw_ms:12.1f}  {raw_label}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
