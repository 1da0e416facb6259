"""The idle memory of `joelclaw up`, every process it runs, beside a bare Celery worker's.

    python bench/footprint.py [--idle 40] [-- extra `joelclaw up` options]

Starts `joelclaw up` with a fresh JOELCLAW_HOME in a temp dir on free ports, waits until every
role answers its own health probe (`joelclaw.probe`: web, worker, gateway, beat, flower) and
the embedded servers recorded their URLs, then `--idle` seconds more; reads PSS and RSS from
`/proc/<pid>/smaps_rollup` for the whole process tree and prints them per role. A plain
`celery -A bench.plain_app worker` (prefork, the worker's concurrency) then idles as long on a
Redis of its own (not counted, and `up` stopped first, so neither shares pages with the other):
the floor one Celery worker costs. Each is stopped (SIGINT to `up`, SIGTERM to the worker) and
no process seen is left behind.

PSS splits each shared page between the processes mapping it, so the sum is what the system
costs the machine; RSS counts shared pages once per process and over-counts forked pools.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from joelclaw.config import Settings  # noqa: E402
from joelclaw.embedded import free_port  # noqa: E402
from joelclaw.probe import PROCESSES, probe  # noqa: E402

MIB = 1024 * 1024
ROLES = {  # a marker in the command line of `up`'s direct child -> its role
    "gunicorn": "web", "-Q joelclaw": "worker", "-Q gateway": "gateway", " beat ": "beat",
    "flower": "flower", "redis-server": "redis", "typesense-server": "typesense",
    "joelclaw.deadman": "watchdog",
}


@dataclass
class Usage:
    processes: int = 0
    pss: int = 0  # bytes
    rss: int = 0
    uss: int = 0  # private pages: what stopping this process alone would give back

    def add(self, other: Usage) -> None:
        self.processes += other.processes
        self.pss += other.pss
        self.rss += other.rss
        self.uss += other.uss


def rollup(pid: int) -> Usage:
    """One process's PSS and RSS from smaps_rollup (kB lines); empty when it is gone."""
    found = Usage(processes=1)
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return Usage()
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in ("Pss", "Rss"):
            setattr(found, name.lower(), int(rest.split()[0]) * 1024)
        elif name in ("Private_Clean", "Private_Dirty"):
            found.uss += int(rest.split()[0]) * 1024
    return found


def tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        top = psutil.Process(pid)
        return [top, *top.children(recursive=True)]
    return []


def role_of(cmdline: str) -> str:
    padded = f" {cmdline} "
    return next((role for marker, role in ROLES.items() if marker in padded), cmdline[:30])


def by_role(up_pid: int, verbose: bool = False) -> dict[str, Usage]:
    """`up` itself is the supervisor; each direct child's subtree is one role."""
    roles: dict[str, Usage] = {"supervisor": rollup(up_pid)}
    for child in psutil.Process(up_pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            role = role_of(" ".join(child.cmdline()))
            usage = roles.setdefault(role, Usage())
            for process in tree(child.pid):
                one = rollup(process.pid)
                usage.add(one)
                if verbose:
                    print(f"  {role:<10} pid {process.pid:<8}{one.pss / MIB:>7.1f} PSS"
                          f"{one.rss / MIB:>7.1f} RSS{one.uss / MIB:>7.1f} USS  "
                          f"{' '.join(process.cmdline())[:80]}",
                          file=sys.stderr)
    return roles


def wait_until(check: Callable[[], bool], timeout: float, what: str,
               alive: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if alive.poll() is not None:
            raise SystemExit(f"exited while waiting for {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; see {log}")
        time.sleep(0.5)


def stop(process: subprocess.Popen[bytes], signum: int, seen: dict[int, psutil.Process]
         ) -> None:
    """Signal the leader, wait, then SIGKILL whatever it left (only processes seen here)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)
        try:
            process.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
    _, alive = psutil.wait_procs(list(seen.values()), timeout=10)
    for leftover in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            leftover.kill()


def remember(seen: dict[int, psutil.Process], pid: int) -> None:
    for process in tree(pid):
        seen.setdefault(process.pid, process)


def run_up(args: argparse.Namespace, tmp: Path, seen: dict[int, psutil.Process]
           ) -> dict[str, Usage]:
    """`joelclaw up` healthy, then idle; its usage per role. Stopped on the way out."""
    home = tmp / "home"
    web_port, flower_port = free_port(), free_port()
    env = clean_env() | {"JOELCLAW_HOME": str(home), "JOELCLAW_WEB_PORT": str(web_port),
                         "JOELCLAW_FLOWER_PORT": str(flower_port)}
    log = tmp / "up.log"
    up = subprocess.Popen([sys.executable, "-m", "joelclaw.cli", "up", *args.up_options],
                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log.open("wb"),
                          stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url_file = home / "redis" / "url"
        wait_until(url_file.exists, 120, "the embedded Redis", up, log)
        settings = Settings(_env_file=None, home=home, redis_url=url_file.read_text().strip(),
                            web_port=web_port, flower_port=flower_port)
        began = time.monotonic()
        for role in PROCESSES:
            wait_until(lambda role=role: probe(role, settings) is None, 180, role, up, log)
        if "--no-typesense" not in args.up_options:
            wait_until((home / "typesense" / "url").exists, 60, "the embedded Typesense", up,
                       log)
        print(f"up: every role healthy after {time.monotonic() - began:.1f} s; "
              f"idling {args.idle:g} s", file=sys.stderr)
        time.sleep(args.idle)
        remember(seen, up.pid)
        roles = by_role(up.pid, args.verbose)
        print(f"tasks run by the worker and gateway so far: {tasks_run(home)} (a pool "
              "process's first runs, the scheduled checks every 5 min included, add ~11 MiB "
              "to it)", file=sys.stderr)
        return roles
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            remember(seen, up.pid)
        stop(up, signal.SIGINT, seen)


def tasks_run(home: Path) -> int:
    """Tasks the worker and gateway received (their logs): runs make a pool process write to
    more shared pages, so an idle window across a scheduled run measures more."""
    count = 0
    for name in ("worker", "gateway"):
        with contextlib.suppress(OSError):
            text = (home / "logs" / f"{name}.log").read_text(errors="replace")
            count += sum(1 for line in text.splitlines() if "] received" in line)
    return count


def run_plain(args: argparse.Namespace, tmp: Path, seen: dict[int, psutil.Process]) -> Usage:
    """A bare Celery worker on its own Redis (not counted), idle as long; its usage."""
    from joelclaw.embedded import RedisServer

    server = RedisServer(tmp / "plain-redis")
    url = server.start()
    log = tmp / "plain.log"
    plain = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench.plain_app", "worker", "-Q", "plain",
         "-c", str(args.concurrency), "-n", "plain@%h", "-l", "info"],
        cwd=ROOT, env=clean_env() | {"BENCH_REDIS_URL": url}, stdin=subprocess.DEVNULL,
        stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: b" ready." in log.read_bytes(), 60, "the plain worker", plain, log)
        time.sleep(args.idle)
        remember(seen, plain.pid)
        bare = Usage()
        for process in tree(plain.pid):
            bare.add(rollup(process.pid))
        return bare
    finally:
        stop(plain, signal.SIGTERM, seen)
        server.stop()


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOELCLAW_", "FLOWER_"))}
    return env | {"PYTHONPATH": str(ROOT)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=float, default=40.0, help="seconds idle once healthy")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="the plain worker's (the joelclaw worker's default)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every process")
    parser.add_argument("up_options", nargs="*", help="passed to `joelclaw up` (after --)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="joelclaw-footprint-"))
    seen: dict[int, psutil.Process] = {}
    try:
        roles = run_up(args, tmp, seen)
        bare = run_plain(args, tmp, seen)
        report(roles, bare, args)
    finally:
        left = [p.pid for p in seen.values() if p.is_running()]
        print(f"stopped; processes left behind: {len(left)} {left or ''}", file=sys.stderr)


def report(roles: dict[str, Usage], bare: Usage, args: argparse.Namespace) -> None:
    total = Usage()
    print(f"\n`joelclaw up` after {args.idle:g} s idle (PSS/RSS from /proc/<pid>/smaps_rollup)\n")
    print(f"{'role':<14}{'procs':>6}{'PSS MiB':>10}{'RSS MiB':>10}")
    for role, usage in sorted(roles.items(), key=lambda kv: -kv[1].pss):
        total.add(usage)
        print(f"{role:<14}{usage.processes:>6}{usage.pss / MIB:>10.1f}{usage.rss / MIB:>10.1f}")
    print(f"{'total':<14}{total.processes:>6}{total.pss / MIB:>10.1f}{total.rss / MIB:>10.1f}")
    print(f"\nbare Celery worker (bench.plain_app, prefork -c {args.concurrency}): "
          f"{bare.processes} processes, {bare.pss / MIB:.1f} MiB PSS, "
          f"{bare.rss / MIB:.1f} MiB RSS")
    print(f"`joelclaw up` / bare worker: {total.pss / max(bare.pss, 1):.1f}x PSS; "
          "goal: <= 300 MiB PSS with every role")


if __name__ == "__main__":
    main()
