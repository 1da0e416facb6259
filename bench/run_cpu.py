"""CPU per run, sender and executor apart, beside plain Celery doing the same work: where the
durable layer's cost goes, without the noise of workers sharing the machine.

    python bench/run_cpu.py [--runs 2000] [--rounds 3] [--profile send|execute]

In one process, on its own Redis (no worker): (a) the sender's CPU per event (`rt.send` of a
one-step and of a ten-step function's event) beside plain Celery's `send_task` of the same
tasks, (b) the CPU of executing each run (`execute`, what a worker's task does) beside calling
the plain task's body, and (c) the Redis server's CPU and commands per event and per run. CPU is
this process's (user + system, `time.process_time`), so a busy machine slows the figures less
than wall-clock ones; each side's best round is kept. `--profile` prints the top of a cProfile
(by CPU) of the joelclaw side of that phase.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import environment  # noqa: E402


def redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])


def commands(client: Any) -> float:
    return float(sum(v["calls"] for k, v in client.info("commandstats").items()
                     if k != "cmdstat_info"))


def timed(client: Any, work: Callable[[], None], count: int,
          profile: cProfile.Profile | None = None) -> tuple[float, float, float]:
    """(µs of this process's CPU, µs of Redis CPU, Redis commands), each per item."""
    calls, server = commands(client), redis_cpu(client)
    began = time.process_time()
    if profile is not None:
        profile.enable()
    work()
    if profile is not None:
        profile.disable()
    spent = time.process_time() - began
    return (spent / count * 1e6, (redis_cpu(client) - server) / count * 1e6,
            (commands(client) - calls - 2) / count)  # the two INFO calls of this reading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=("send", "execute"), default=None)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="joelclaw-runcpu-"))
    server, url, env = environment(tmp, "bench.functions")
    os.environ.update(env)
    from bench import plain_app
    from joelclaw.bus.execution import execute
    from joelclaw.config import Settings
    from joelclaw.events.model import Event
    from joelclaw.runtime import Runtime

    rt = Runtime(Settings(_env_file=None, home=tmp / "home", redis_url=url,
                          function_modules=["bench.functions"]))
    plain = plain_app.sender(url)
    client = rt.redis
    best: dict[str, tuple[float, float, float]] = {}
    profile = cProfile.Profile(time.process_time) if args.profile else None

    def keep(name: str, figures: tuple[float, float, float]) -> None:
        if name not in best or figures[0] < best[name][0]:
            best[name] = figures

    try:
        for kind, function_id in (("one", "b-one"), ("ten", "b-ten")):
            fn = rt.function(function_id)
            assert fn is not None
            body = plain_app.one if kind == "one" else plain_app.ten
            warm = [r for i in range(100)
                    for r in rt.send(Event(name=f"bench/{kind}", data={"i": i}))[0].runs]
            for run_id in warm:
                execute(rt, fn, run_id)
            offset = 1000
            for _round in range(args.rounds):
                runs: list[str] = []

                def send(kind: str = kind, runs: list[str] = runs, offset: int = offset) -> None:
                    for i in range(args.runs):
                        runs += rt.send(Event(name=f"bench/{kind}", data={"i": offset + i}))[0].runs

                def send_plain(kind: str = kind, offset: int = offset) -> None:
                    for i in range(args.runs):
                        plain.send_task(f"plain.{kind}", args=[offset + i], queue="plain",
                                        priority=5)

                def run_all(fn: Any = fn, runs: list[str] = runs) -> None:
                    for run_id in runs:
                        execute(rt, fn, run_id)

                def run_plain(body: Any = body, offset: int = offset) -> None:
                    for i in range(args.runs):
                        body.run(offset + i)

                keep(f"send {kind}", timed(client, send, args.runs,
                                           profile if args.profile == "send" else None))
                keep(f"plain send {kind}", timed(client, send_plain, args.runs))
                keep(f"execute {kind}", timed(client, run_all, args.runs,
                                              profile if args.profile == "execute" else None))
                keep(f"plain execute {kind}", timed(client, run_plain, args.runs))
                offset += args.runs
                client.delete("joelclaw:5", "plain:5", "plain")  # the unconsumed messages
    finally:
        server.stop()
    print(f"\nper event / run, best of {args.rounds} rounds of {args.runs}, in one process "
          f"(load average {os.getloadavg()[0]:.1f})\n")
    print(f"{'measure':<34}{'joelclaw':>10}{'plain':>10}{'ratio':>8}   "
          f"{'Redis CPU us':>14}{'Redis cmds':>14}")
    for phase in ("send", "execute"):
        for kind in ("one", "ten"):
            j, p = best[f"{phase} {kind}"], best[f"plain {phase} {kind}"]
            label = f"{phase}, {'one-step' if kind == 'one' else 'ten-step'} (CPU us)"
            print(f"{label:<34}{j[0]:>10.0f}{p[0]:>10.0f}{j[0] / p[0]:>8.2f}   "
                  f"{j[1]:>6.0f} vs {p[1]:>4.0f}{j[2]:>7.1f} vs {p[2]:>4.1f}")
    print("\nplain: send_task of the same tasks (bench/plain_app.py); its execute is the task's "
          "body called in this process (no broker, no worker), the floor of the work itself")
    if profile is not None:
        print()
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
