"""How long the `joelclaw` CLI takes to answer, beside `python -c pass` on the same machine:
agents and scripts call it in loops, so a read command should answer in ≤ 0.3 s of CPU. The
read commands are those that read Redis (`runs`, `run`, `events`, `event`, `explain`) and those
that also read the function registry (`queues`, `status`, `functions`, `schedule`: they import
the function modules, here the installed application's and `tests.functions`); `gateway
diagnose` is shown without a verdict, since it asks the workers and Telegram over the network.
Each row shows its CPU time, the same less `python -c pass`'s (what joelclaw itself costs), and
its wall clock; the load average is printed first, since a loaded machine slows every row.

Starts its own embedded Redis with a few runs and events in it, then times each command as a
fresh process, JSON mode (stdout is a pipe): the median of `--repeat` runs of its CPU time (user
+ system, what a shared machine's load disturbs least) and of its wall clock. Each command runs
once first, untimed, with bytecode caching on (as an installed CLI has its .pyc files), so a
PYTHONDONTWRITEBYTECODE in the environment does not time Python compiling our modules.

    python bench/cli_start.py [--repeat 9]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the test functions (tests.functions) give the runs a function
TARGET = 0.3


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv: list[str], env: dict[str, str], repeat: int) -> tuple[float, float, int]:
    """Median CPU and wall time of `argv` over `repeat` runs (after one untimed run), and its
    exit status."""
    subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    cpu, wall, code = [], [], 0
    for _ in range(repeat):
        used, began = _children_cpu(), time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, check=False)
        wall.append(time.perf_counter() - began)
        cpu.append(_children_cpu() - used)
        code = done.returncode
    return statistics.median(cpu), statistics.median(wall), code


def seed(url: str, home: Path) -> dict[str, str]:
    """A few runs and events to read (no worker: they stay queued)."""
    from joelclaw.config import Settings
    from joelclaw.events.model import Event
    from joelclaw.runtime import Runtime

    rt = Runtime(Settings(_env_file=None, redis_url=url, home=home,  # type: ignore[call-arg]
                          function_modules=["tests.functions"]))
    sent = [rt.send(Event(name="test/steps", data={"n": i}))[0] for i in range(20)]
    return {"run": sent[-1].runs[0], "event": sent[-1].id}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    from joelclaw.embedded import RedisServer

    with tempfile.TemporaryDirectory() as tmp:
        server = RedisServer(Path(tmp) / "redis")
        url = server.start()
        try:
            ids = seed(url, Path(tmp) / "home")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("JOELCLAW_") and k != "PYTHONDONTWRITEBYTECODE"}
            env.update(JOELCLAW_REDIS_URL=url, JOELCLAW_HOME=str(Path(tmp) / "home"),
                       JOELCLAW_FUNCTION_MODULES="tests.functions", PYTHONPATH=str(ROOT))
            cli = [sys.executable, "-m", "joelclaw.cli"]
            rows = [("python -c pass", [sys.executable, "-c", "pass"], False),
                    ("joelclaw --help", [*cli, "--help"], True),
                    ("joelclaw runs", [*cli, "runs"], True),
                    ("joelclaw run <id>", [*cli, "run", ids["run"]], True),
                    ("joelclaw events", [*cli, "events"], True),
                    ("joelclaw event <id>", [*cli, "event", ids["event"]], True),
                    ("joelclaw explain <id>", [*cli, "explain", ids["run"]], True),
                    ("joelclaw queues", [*cli, "queues"], True),
                    ("joelclaw status", [*cli, "status"], True),
                    ("joelclaw functions", [*cli, "functions"], True),
                    ("joelclaw schedule", [*cli, "schedule"], True),
                    ("joelclaw gateway diagnose", [*cli, "gateway", "diagnose"], False)]
            load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
            print(f"median of {args.repeat} runs; load average {load} on {os.cpu_count()} "
                  "cores (a loaded machine inflates CPU time too)")
            print(f"{'command':28} {'cpu':>8} {'- pass':>8} {'wall':>8}  {'exit':>4}  "
                  f"read ≤ {TARGET:.1f} s cpu")
            base = 0.0
            for label, argv, read in rows:
                cpu, wall, code = timed(argv, env, args.repeat)
                base = cpu if argv[1:] == ["-c", "pass"] else base
                verdict = ("ok" if cpu <= TARGET else "SLOW") if read else ""
                print(f"{label:28} {cpu:7.3f}s {cpu - base:7.3f}s {wall:7.3f}s  {code:>4}  "
                      f"{verdict}")
            print(f"{'target (read commands)':28} {TARGET:7.3f}s")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
