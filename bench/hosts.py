"""Many hosts against one broker: throughput for N = 1, 2, 3 worker hosts, and a whole host
SIGKILLed mid-load.

    python bench/hosts.py [--hosts 1,2,3] [--runs 300] [--concurrency 2] [--seconds 0.02]
                          [--lease 10] [--no-kill]

Each "host" is a Celery worker in a process group of its own, with its own node name, and
(where `unshare --uts` is allowed, as root on Linux) its own hostname in a UTS namespace: to
joelclaw it is another machine, so a dead host's runs are taken over by lease expiry, as they
would be across machines, not by the same-host shortcut. All share one Redis (the broker and
the state). The work is I/O-bound (three steps that each wait `--seconds`, as HTTP or LLM calls
do), so hosts add capacity even on a machine with few cores; the same work as a plain Celery
task (`bench.plain_app:plain.three_io`) is measured beside it with the same hosts.

Prints, per N: joelclaw runs/s and plain Celery tasks/s. Then, with 3 hosts and `--runs` in
flight, SIGKILLs a whole host while it executes runs and prints: the runs it held, the time
until their leases were released (expired: runnable again), the time until the last of them
was taken over (leased by another host or finished: it includes waiting its turn behind the
backlog in the queue), lost runs (acknowledged but not completed), and finished steps that ran
again.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import environment, stop  # noqa: E402
from bench.hosts_functions import DONE, RAN_AGAIN  # noqa: E402
from joelclaw import keys  # noqa: E402


def can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    done = subprocess.run(["unshare", "--uts", "sh", "-c", "hostname jc-probe"],
                          capture_output=True, timeout=10)
    return done.returncode == 0


class Host:
    """One worker host: its own process group, node name and (if allowed) hostname."""

    def __init__(self, index: int, app: str, queue: str, concurrency: int,
                 env: dict[str, str], folder: Path, uts: bool):
        self.name = f"jc-host{index}"
        self.log_path = folder / f"{self.name}-{queue}.log"
        celery = [sys.executable, "-m", "celery", "-A", app, "worker", "-Q", queue, "-c",
                  str(concurrency), "-l", "info", "--without-gossip", "--without-mingle",
                  "--without-heartbeat", "-n", f"{queue}@{self.name}"]
        argv = (["unshare", "--uts", "sh", "-c",
                 f'hostname {self.name} && exec "$0" "$@"', *celery] if uts else celery)
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log_path.open("wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while b" ready." not in self.log_path.read_bytes():
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"{self.name} did not start: see {self.log_path}")
            time.sleep(0.1)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        stop(self.proc)


def start_hosts(count: int, app: str, queue: str, args: argparse.Namespace,
                env: dict[str, str], folder: Path, uts: bool) -> list[Host]:
    hosts = [Host(i + 1, app, queue, args.concurrency, env, folder, uts) for i in range(count)]
    for host in hosts:
        host.wait_ready()
    return hosts


def joelclaw_throughput(client: redis.Redis, rt: Any, runs: int, seconds: float) -> float:
    from joelclaw.events.model import Event

    client.delete(DONE)
    began = time.perf_counter()
    for _ in range(runs):
        rt.send(Event(name="hosts/work", data={"seconds": seconds}))
    wait_count(client, runs)
    return runs / (time.perf_counter() - began)


def plain_throughput(client: redis.Redis, runs: int, seconds: float) -> float:
    from bench.plain_app import three_io

    client.delete(DONE)
    began = time.perf_counter()
    for i in range(runs):
        three_io.apply_async(args=[i, seconds], priority=5)
    wait_count(client, runs)
    return runs / (time.perf_counter() - began)


def wait_count(client: redis.Redis, count: int, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    while int(client.get(DONE) or 0) < count:
        if time.time() > deadline:
            raise SystemExit("the work did not finish; see the host logs")
        time.sleep(0.02)


def holders(client: redis.Redis) -> dict[str, str]:
    """Run id -> the host named in its lease token (`host:pid:...`)."""
    targets = [t.decode() for t in client.zrange(keys.LEASES, 0, -1)]
    tokens = client.mget([keys.lease(t) for t in targets]) if targets else []
    return {t.split("|")[0]: tok.decode().split(":")[0]
            for t, tok in zip(targets, tokens, strict=True) if tok}


def kill_a_host(client: redis.Redis, rt: Any, hosts: list[Host], args: argparse.Namespace
                ) -> dict[str, Any]:
    from joelclaw.events.model import Event

    client.delete(DONE, RAN_AGAIN)
    run_ids = [rt.send(Event(name="hosts/work", data={"seconds": args.seconds * 10}))[0].runs[0]
               for _ in range(args.runs)]
    victim = hosts[0]
    deadline = time.time() + 120
    while not (held := [r for r, h in holders(client).items() if h == victim.name]):
        if time.time() > deadline:
            raise SystemExit(f"{victim.name} never held a run")
        time.sleep(0.01)
    victim.kill()
    killed_at = time.time()
    taken: dict[str, float] = {}
    released: dict[str, float] = {}  # the dead host's lease gone: the run is runnable again
    while len(taken) < len(held) and time.time() < killed_at + 600:
        now_holders = holders(client)
        for run_id in held:
            token = client.get(keys.lease(run_id))
            if run_id not in released and (token is None
                                           or not token.decode().startswith(victim.name)):
                released[run_id] = time.time() - killed_at
            if run_id in taken:
                continue
            status = rt.runs.status(run_id)
            owner = now_holders.get(run_id)
            if status == "completed" or (owner is not None and owner != victim.name):
                taken[run_id] = time.time() - killed_at
        time.sleep(0.05)
    deadline = time.time() + 900
    pending = list(run_ids)
    while pending and time.time() < deadline:
        pending = [r for r in pending if rt.runs.status(r) != "completed"]
        time.sleep(0.5)
    return {"runs": len(run_ids), "runs_held_by_the_killed_host": len(held),
            "leases_released_s": round(max(released.values()), 2) if released else None,
            "takeover_s": round(max(taken.values()), 2) if taken else None,
            "all_completed_after_s": round(time.time() - killed_at, 1) if not pending else None,
            "lost": len(pending),
            "finished_steps_ran_again": int(client.get(RAN_AGAIN) or 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hosts", default="1,2,3")
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=0.02, help="each step's wait")
    parser.add_argument("--lease", type=float, default=10.0, help="JOELCLAW_RUN_LEASE_SECONDS")
    parser.add_argument("--no-kill", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="joelclaw-hosts-"))
    server, url, env = environment(folder, "bench.hosts_functions")
    env["JOELCLAW_RUN_LEASE_SECONDS"] = str(args.lease)
    os.environ.update({k: v for k, v in env.items() if k.startswith("JOELCLAW_")})
    uts = can_unshare()
    from joelclaw.runtime import Runtime

    rt = Runtime()
    client = redis.Redis.from_url(url)
    report: dict[str, Any] = {"hosts_are": "UTS namespaces (own hostnames)" if uts
                              else "process groups on this host (no unshare)",
                              "cores": os.cpu_count(), "concurrency_per_host":
                              args.concurrency, "step_wait_s": args.seconds, "throughput": []}
    try:
        for count in [int(n) for n in args.hosts.split(",") if n]:  # "": only the kill
            hosts = start_hosts(count, "joelclaw.worker", "joelclaw", args, env, folder, uts)
            try:
                joelclaw_throughput(client, rt, 20, args.seconds)  # warm up
                ours = joelclaw_throughput(client, rt, args.runs, args.seconds)
            finally:
                for host in hosts:
                    host.stop()
            plain_hosts = start_hosts(count, "bench.plain_app", "plain", args, env, folder, uts)
            try:
                plain_throughput(client, 20, args.seconds)
                plain = plain_throughput(client, args.runs, args.seconds)
            finally:
                for host in plain_hosts:
                    host.stop()
            row = {"hosts": count, "joelclaw_runs_per_s": round(ours, 1),
                   "plain_celery_tasks_per_s": round(plain, 1),
                   "ratio": round(ours / plain, 2)}
            report["throughput"].append(row)
            print(json.dumps(row), file=sys.stderr)
        if not args.no_kill:
            hosts = start_hosts(3, "joelclaw.worker", "joelclaw", args, env, folder, uts)
            try:
                report["host_killed"] = {"lease_s": args.lease,
                                         **kill_a_host(client, rt, hosts, args)}
            finally:
                for host in hosts[1:]:
                    host.stop()
    finally:
        server.stop()  # type: ignore[attr-defined]
    print(json.dumps(report, indent=2))
    print(f"logs: {folder}")


if __name__ == "__main__":
    main()
