"""Flow-control benchmark: runs/s of a one-step function with each option vs without (same
worker, same broker, alternating rounds), and the priority experiment (how soon a high-priority
run starts behind a 1,000-run backlog, vs plain Celery priorities on the same broker).

    python bench/flow.py [--events 2000] [--backlog 1000] [--concurrency 2] [--rounds 2]

Options are set so they never hold a run back (huge limits, unique keys): what is measured is
the cost of enforcing them. Starts its own Redis and workers; this module also declares the
functions it measures (the worker imports it as `bench.flow`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.harness import environment, marks, start_worker, stop, throughput  # noqa: E402
from joelclaw import Context, function  # noqa: E402

PRIO_QUEUE = "benchprio"
JC_STARTS = "bench:prio-starts"  # plain.one (bench/plain_app.py) writes bench:start


def _work(ctx: Context) -> int:
    client = marks(ctx.settings.redis_url)
    return ctx.step.run("work", lambda: int(client.incrby("bench:done", len(ctx.events))))


def _declare(option: str, **options: object) -> object:
    return function(f"bf-{option.replace('_', '-')}", trigger=f"bench/flow.{option}", retries=0,
                    **options)(_work)


OPTIONS: dict[str, dict[str, object]] = {
    "none": {},
    "concurrency": {"concurrency": {"limit": 1000, "key": "event.data.k"}},
    "throttle": {"throttle": {"limit": 100000, "period": "1s"}},
    "rate_limit": {"rate_limit": {"limit": 10**9, "period": "60s"}},
    "idempotency": {"idempotency": "event.id"},
    "singleton": {"singleton": {"key": "event.data.i", "mode": "skip"}},
    "priority": {"priority": {"run": "event.data.i % 2 == 0 ? 60 : 0"}},
    "cancel_on": {"cancel_on": [{"event": "bench/flow.never", "match": "data.i"}]},
    "debounce": {"debounce": {"period": 0.05, "key": "event.data.i"}},
    "batch": {"batch": {"max_size": 10, "timeout": 1}},
}
DECLARED = {name: _declare(name, **opts) for name, opts in OPTIONS.items()}
# The registry collects module-level Function objects: expose each one under its own name.
globals().update({f"bf_{name}": fn for name, fn in DECLARED.items()})


@function("bf-prio", trigger="bench/flow.prio", retries=0, queue=PRIO_QUEUE,
          priority={"run": "event.data.vip ? 600 : 0"})
def prio(ctx: Context) -> None:
    marks(ctx.settings.redis_url).hset(JC_STARTS, ctx.event.data["i"], time.time())


# ---- the measurement ---------------------------------------------------------------------

def measure_options(rt, client: redis.Redis, args: argparse.Namespace) -> dict[str, float]:
    from joelclaw import Event

    def sender(option: str) -> Callable[[int], None]:
        name = f"bench/flow.{option}"
        return lambda i: rt.send(Event(name=name, data={"i": i, "k": i % 10}))

    throughput(client, sender("none"), 200)  # warm up
    rates: dict[str, float] = {}
    for _round in range(args.rounds):
        for option in OPTIONS:
            rate = throughput(client, sender(option), args.events)
            rates[option] = max(rates.get(option, 0.0), rate)
            print(f"[{option}] {rate:.0f}/s", file=sys.stderr)
    return rates


def backlog_position(client: redis.Redis, key: str, fill: Callable[[], None],
                     start: Callable[[], subprocess.Popen[bytes]], backlog: int
                     ) -> tuple[int, float, subprocess.Popen[bytes]]:
    """Queue the backlog and then the VIP (i = -1) with no consumer; start one; where was it?

    The worker is stopped before returning, so the next experiment has the machine to itself.
    """
    client.delete(key)
    fill()
    proc = start()
    deadline = time.time() + 300
    while client.hlen(key) < min(backlog, 200) or not client.hexists(key, -1):
        if time.time() > deadline:
            raise SystemExit("priority experiment stalled; see the worker log")
        time.sleep(0.05)
    stop(proc)
    times = {int(k): float(v) for k, v in client.hgetall(key).items()}
    order = sorted(times, key=times.__getitem__)
    first = times[order[0]]
    return order.index(-1), (times[-1] - first) * 1000, proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--backlog", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from joelclaw import Event, Settings
    from joelclaw.runtime import Runtime

    tmp = Path(tempfile.mkdtemp(prefix="joelclaw-bench-flow-"))
    server, url, env = environment(tmp, "bench.flow")
    settings = Settings(_env_file=None, home=tmp / "home", redis_url=url,
                        function_modules=["bench.flow"])
    rt = Runtime(settings)
    client = redis.Redis.from_url(url)
    from bench.plain_app import app as plain

    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(start_worker("joelclaw.worker", "joelclaw", args.concurrency, env,
                                  tmp / "joelclaw.log"))
        rates = measure_options(rt, client, args)

        def fill_joelclaw() -> None:
            for i in range(args.backlog):
                rt.send(Event(name="bench/flow.prio", data={"i": i, "vip": False}))
            rt.send(Event(name="bench/flow.prio", data={"i": -1, "vip": True}))

        def fill_plain() -> None:
            for i in range(args.backlog):
                plain.send_task("plain.one", args=[i], queue="plainprio", priority=5)
            plain.send_task("plain.one", args=[-1], queue="plainprio", priority=0)

        jc = backlog_position(client, JC_STARTS, fill_joelclaw, lambda: start_worker(
            "joelclaw.worker", PRIO_QUEUE, args.concurrency, env, tmp / "prio.log"),
            args.backlog)
        procs.append(jc[2])
        pl = backlog_position(client, "bench:start", fill_plain, lambda: start_worker(
            "bench.plain_app", "plainprio", args.concurrency, env, tmp / "plain.log"),
            args.backlog)
        procs.append(pl[2])
        report(rates, jc[:2], pl[:2], args)
    finally:
        for proc in procs:
            stop(proc)
        server.stop()


def report(rates: dict[str, float], jc: tuple[int, float], pl: tuple[int, float],
           args: argparse.Namespace) -> None:
    base = rates["none"]
    print(f"\none worker, concurrency {args.concurrency}, {args.events} one-step runs per "
          f"option, best of {args.rounds} alternating rounds, one Redis broker\n")
    print(f"{'option':<14}{'runs/s':>10}{'vs none':>10}")
    for option, rate in rates.items():
        print(f"{option:<14}{rate:>10.0f}{rate / base:>10.2f}")
    print(f"\npriority: one high-priority run queued behind {args.backlog} default ones\n")
    print(f"{'':<22}{'started as #':>14}{'ms after first':>16}")
    print(f"{'joelclaw priority':<22}{jc[0] + 1:>14}{jc[1]:>16.1f}")
    print(f"{'plain celery priority':<22}{pl[0] + 1:>14}{pl[1]:>16.1f}")


if __name__ == "__main__":
    main()
