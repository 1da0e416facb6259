"""What an execution's final write costs, sent three ways: as the `lease_finish` script (today:
each write travels as its word count and its words, which Lua applies), as the same commands
pipelined plain with the small `lease_release` script, and in MULTI/EXEC; beside one bare
request (a SET), the cost of a request to Redis before its commands do anything.

    python bench/final_write.py [--function b-one|b-ten] [--count 4000] [--rounds 3]

Runs one real execution in this process to capture its final write, then sends that write
`count` times per way and prints, per write, the Redis server's CPU (INFO cpu) and this
process's (the sender's); each way's best round is kept.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import environment  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--function", choices=("b-one", "b-ten"), default="b-one")
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="joelclaw-final-write-"))
    server, url, env = environment(tmp, "bench.functions")
    os.environ.update(env)
    try:
        measure(args, tmp, url)
    finally:
        server.stop()  # type: ignore[attr-defined]


def measure(args: argparse.Namespace, tmp: Path, url: str) -> None:
    from joelclaw import keys
    from joelclaw.bus.delivery import leases
    from joelclaw.bus.execution import execute
    from joelclaw.config import Settings
    from joelclaw.events.model import Event
    from joelclaw.runtime import Runtime

    rt = Runtime(Settings(_env_file=None, home=tmp / "home", redis_url=url,
                          function_modules=["bench.functions"]))
    fn = rt.function(args.function)
    assert fn is not None
    captured: list[list[tuple[Any, ...]]] = []
    finish_with = leases.Lease.finish_with

    def capture(lease: leases.Lease, commands: list[tuple[Any, ...]]) -> Any:
        captured.append(list(commands))
        return finish_with(lease, commands)

    leases.Lease.finish_with = capture  # type: ignore[method-assign,assignment]
    name = "bench/one" if args.function == "b-one" else "bench/ten"
    execute(rt, fn, rt.send(Event(name=name, data={"i": 1}))[0].runs[0])
    leases.Lease.finish_with = finish_with  # type: ignore[method-assign]
    commands = captured[-1]
    client = rt.redis
    lease_keys = [keys.lease("bench-target"), keys.LEASES]
    lease = leases.Lease(rt.scripts, "bench-target", "token", 20.0)
    _, finish_args = lease.finish_with(commands)
    finish = client.script_load(rt.scripts.lease_finish.script)
    release = client.script_load(rt.scripts.lease_release.script)

    def bare(n: int) -> None:
        for _ in range(n):
            pipe = client.pipeline(transaction=False)
            pipe.set(lease_keys[0], "token")
            pipe.execute()

    def scripted(n: int) -> None:
        for _ in range(n):
            pipe = client.pipeline(transaction=False)
            pipe.set(lease_keys[0], "token")
            pipe.evalsha(finish, 2, *lease_keys, *finish_args)
            pipe.execute()

    def pipelined(n: int, transaction: bool = False) -> None:
        for _ in range(n):
            pipe = client.pipeline(transaction=transaction)
            pipe.set(lease_keys[0], "token")
            for command in commands:
                pipe.execute_command(*command)
            pipe.evalsha(release, 2, *lease_keys, "token", "bench-target")
            pipe.execute()

    def server_cpu() -> float:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    ways: dict[str, Callable[[int], None]] = {
        "bare request (SET)": bare, "script (today)": scripted,
        "pipeline + release script": pipelined,
        "MULTI/EXEC + release script": lambda n: pipelined(n, True)}
    best: dict[str, tuple[float, float]] = {}
    for _round in range(args.rounds):
        for label, way in ways.items():
            server, began = server_cpu(), time.process_time()
            way(args.count)
            spent = ((server_cpu() - server) / args.count * 1e6,
                     (time.process_time() - began) / args.count * 1e6)
            best[label] = min(best.get(label, spent), spent)
    print(f"\n{args.function}'s final write: {len(commands)} commands "
          f"({', '.join(c[0] for c in commands)}), {len(finish_args)} script arguments; "
          f"per write, best of {args.rounds} rounds of {args.count} (load average "
          f"{os.getloadavg()[0]:.1f})\n")
    print(f"{'way':<32}{'Redis CPU us':>14}{'sender CPU us':>15}")
    for label, (redis_us, sender_us) in best.items():
        print(f"{label:<32}{redis_us:>14.1f}{sender_us:>15.1f}")
    print("\neach way includes the bare request's SET (it re-takes the lease): subtract that "
          "row for the write alone")


if __name__ == "__main__":
    main()
