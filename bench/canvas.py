"""A durable step over a plain Celery task vs the same task's `apply_async(...).get()` with a
Redis result backend: same broker, same plain worker, same run.

    python bench/canvas.py [--latency-samples 60] [--runs 300] [--concurrency 2]

(a) Latency, one at a time with idle workers: the step (published -> the function resumed with
the result, from the step's trace), the whole durable run (event -> completed) and
`apply_async().get()`; (b) throughput of N at once: N runs whose one step is the task vs N
`apply_async` then N `.get()`. Prints both side by side with the added latency and the ratio.
Starts its own Redis, a joelclaw worker (functions and canvas callbacks) and a plain worker.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import environment, pct, start_worker, stop  # noqa: E402
from joelclaw.bus.records import TERMINAL  # noqa: E402
from joelclaw.config import Settings  # noqa: E402
from joelclaw.events.model import Event  # noqa: E402
from joelclaw.runtime import Runtime  # noqa: E402


def durable_run(rt: Runtime, i: int) -> str:
    return rt.send(Event(name="bench/canvas", data={"i": i}))[0].runs[0]


def wait_done(rt: Runtime, run_ids: list[str], timeout: float = 300,
              interval: float = 0.005) -> None:
    deadline = time.time() + timeout
    pending = list(run_ids)
    while pending:
        statuses = rt.runs.statuses(pending)
        failed = [r for r, s in zip(pending, statuses, strict=True) if s in TERMINAL
                  and s != "completed"]
        if failed:
            raise SystemExit(f"runs failed: {failed[:3]}")
        pending = [r for r, s in zip(pending, statuses, strict=True) if s != "completed"]
        if time.time() > deadline:
            raise SystemExit(f"{len(pending)} runs did not finish; see the worker logs")
        time.sleep(interval)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-samples", type=int, default=60)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jc-bench-canvas-") as tmp_name:
        tmp = Path(tmp_name)
        server, url, env = environment(tmp, "bench.canvas_functions")
        from bench.canvas_app import echo  # reads BENCH_REDIS_URL, set by environment()

        rt = Runtime(Settings(_env_file=None, redis_url=url, home=tmp / "home",
                              function_modules=["bench.canvas_functions"]))
        workers = [start_worker("joelclaw.worker", "joelclaw", args.concurrency, env,
                                tmp / "joelclaw.log"),
                   start_worker("bench.canvas_app", "bplain", args.concurrency, env,
                                tmp / "plain.log")]
        try:
            results = measure(rt, echo, args)
        finally:
            for proc in workers:
                stop(proc)
            server.stop()
    report(results, args)


def measure(rt: Runtime, echo, args: argparse.Namespace) -> dict[str, float]:
    # warm both paths (worker pools, connections, scripts)
    for i in range(3):
        wait_done(rt, [durable_run(rt, -1 - i)], 60)
        echo.apply_async((i,)).get(timeout=60)
    step_ms, run_ms, direct_ms = [], [], []
    for i in range(args.latency_samples):
        run_id = durable_run(rt, i)
        wait_done(rt, [run_id], 60)
        step = rt.runs.step(run_id, "echo")
        run = rt.runs.get(run_id)
        step_ms.append((step["ended_at"] - step["started_at"]) * 1000)
        run_ms.append((run.ended_at - run.created_at) * 1000)
        began = time.perf_counter()
        assert echo.apply_async((i,)).get(timeout=60) == i
        direct_ms.append((time.perf_counter() - began) * 1000)
    print("latency done", file=sys.stderr)
    began = time.perf_counter()
    ids = [durable_run(rt, i) for i in range(args.runs)]
    wait_done(rt, ids, interval=0.1)  # polling 300 runs must not load the Redis it measures
    durable_rate = args.runs / (time.perf_counter() - began)
    executions = statistics.mean(run.executions for run in
                                 (rt.runs.get(run_id) for run_id in ids) if run is not None)
    began = time.perf_counter()
    pending = [echo.apply_async((i,)) for i in range(args.runs)]
    for i, result in enumerate(pending):
        assert result.get(timeout=300) == i
    direct_rate = args.runs / (time.perf_counter() - began)
    return {
        "step_p50": statistics.median(step_ms), "step_p90": pct(step_ms, 0.9),
        "run_p50": statistics.median(run_ms), "run_p90": pct(run_ms, 0.9),
        "direct_p50": statistics.median(direct_ms), "direct_p90": pct(direct_ms, 0.9),
        "durable_rate": durable_rate, "direct_rate": direct_rate, "executions": executions,
    }


def report(r: dict[str, float], args: argparse.Namespace) -> None:
    print(f"\nworkers: concurrency {args.concurrency} each (joelclaw + plain), one Redis, "
          f"{args.latency_samples} latency samples, {args.runs} runs for throughput\n")
    print(f"{'measure':<46}{'durable step':>14}{'apply_async.get':>17}{'added/ratio':>13}")
    print(f"{'latency p50, ms (step: published -> resumed)':<46}{r['step_p50']:>14.1f}"
          f"{r['direct_p50']:>17.1f}{r['step_p50'] - r['direct_p50']:>+13.1f}")
    print(f"{'latency p90, ms (step)':<46}{r['step_p90']:>14.1f}{r['direct_p90']:>17.1f}"
          f"{r['step_p90'] - r['direct_p90']:>+13.1f}")
    print(f"{'latency p50, ms (whole run: event -> done)':<46}{r['run_p50']:>14.1f}"
          f"{r['direct_p50']:>17.1f}{r['run_p50'] - r['direct_p50']:>+13.1f}")
    print(f"{'throughput, tasks/s':<46}{r['durable_rate']:>14.1f}{r['direct_rate']:>17.1f}"
          f"{'x' + format(r['durable_rate'] / r['direct_rate'], '.2f'):>13}")
    print(f"\nexecutions per durable run: {r['executions']:.2f} (start, then resumed with the "
          "result); its worker also runs one canvas callback per task")


if __name__ == "__main__":
    main()
