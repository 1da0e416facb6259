"""Chaos: a steady event load on `joelclaw up` while its processes are SIGKILLed at random.

    python bench/chaos.py [--minutes 5] [--rate 10] [--kill-every 10] [--seed N]
                          [--victims worker,redis]

Starts `joelclaw up` on a temporary home (embedded Redis, web, worker, gateway, beat; no Flower,
no Typesense), sends events through the HTTP API at a steady rate, and every few seconds
SIGKILLs one of the worker, the gateway, beat, the web server, the embedded Redis or the
embedded Typesense (a whole process group: pool processes and gunicorn workers die with their
parent), each victim once
per round in a shuffled order, so a short run kills every kind. `up` restarts what died.
Each event starts a three-step run whose steps count their executions in Redis and note when
one starts although its result is already stored (a finished step running again); one event in
ten is instead a session for the memory pipeline (the observe function: a call to a local fake
LLM, then Typesense writes), whose run must complete too.

When the time is up it stops killing, waits for every acknowledged event's run to end, and
prints: events sent, acknowledged (the API answered 200), runs completed, lost (acknowledged
but no completed run), finished steps that ran again, and the longest recovery (from a kill to
the next probe run completing), overall, per kind of victim, and for each kill in order.
`--victims` restricts the kills to some kinds (to test one kind repeatedly in a short run).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.memory import observer_reply  # noqa: E402
from joelclaw.embedded import free_port  # noqa: E402
from tests.fakes.llm import FakeLLM  # noqa: E402
from tests.memory.replies import MemoryLLM  # noqa: E402

TOKEN = "chaos-token-0123456789"
VICTIMS = ("worker", "gateway", "beat", "web", "redis", "typesense")
MEMORY_EVERY = 10  # one event in ten is a session for the memory pipeline (observe + store)


class System:
    """`joelclaw up` as a child process, and its children found by their command lines."""

    def __init__(self, home: Path, lease: float, llm_url: str):
        self.home = home
        self.port = free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JOELCLAW_")}
        self.env.update(JOELCLAW_HOME=str(home), JOELCLAW_API_TOKEN=TOKEN,
                        JOELCLAW_WEB_PORT=str(self.port), JOELCLAW_FLOWER_PORT=str(free_port()),
                        JOELCLAW_FUNCTION_MODULES="bench.chaos_functions",
                        JOELCLAW_LLM_API_URL=llm_url, JOELCLAW_LLM_API_KEY="sk-test",
                        JOELCLAW_LLM_MODEL="instant",
                        JOELCLAW_RUN_LEASE_SECONDS=str(lease),
                        JOELCLAW_OUTBOX_GRACE_SECONDS="20", PYTHONPATH=str(ROOT))
        self.log = (home / "up.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "joelclaw.cli", "up", "--no-flower"],
            cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=5,
                                 headers={"Authorization": f"Bearer {TOKEN}"})

    def children(self) -> dict[str, psutil.Process]:
        """The leader process of each supervised child, by role."""
        found: dict[str, psutil.Process] = {}
        try:
            kids = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return found
        for kid in kids:
            try:
                line = " ".join(kid.cmdline())
            except psutil.Error:
                continue
            role = ("redis" if "redis-server" in line else "typesense" if "typesense" in line
                    else "web" if "gunicorn" in line
                    else "gateway" if "-Q gateway" in line else "beat" if " beat " in line
                    else "worker" if " worker " in line else None)
            if role:
                found[role] = kid
        return found

    def kill(self, role: str) -> bool:
        kid = self.children().get(role)
        if kid is None:
            return False
        try:
            os.killpg(kid.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def send(self, name: str, event_id: str, data: dict[str, Any]) -> bool:
        try:
            answer = self.http.post("/api/events", json={"name": name, "id": event_id,
                                                         "data": data})
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def healthy(self) -> bool:
        try:
            return self.http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


def redis_client(home: Path):  # type: ignore[no-untyped-def]
    import redis

    url = (home / "redis" / "url").read_text().strip()
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second")
    parser.add_argument("--kill-every", type=float, default=10.0, help="mean seconds")
    parser.add_argument("--lease", type=float, default=20.0, help="JOELCLAW_RUN_LEASE_SECONDS")
    parser.add_argument("--seed", type=int, default=None,
                        help="the kill schedule's seed (printed; default: a random one)")
    parser.add_argument("--victims", default=",".join(VICTIMS),
                        help="comma list of the kinds to kill (default: all of "
                             + ", ".join(VICTIMS) + ")")
    args = parser.parse_args()
    args.victims = tuple(v.strip() for v in args.victims.split(",") if v.strip())
    unknown = set(args.victims) - set(VICTIMS)
    if unknown or not args.victims:
        parser.error(f"--victims: unknown kinds {sorted(unknown)}; choose from {VICTIMS}")
    if args.seed is None:
        args.seed = random.randrange(2**32)
    home = Path(tempfile.mkdtemp(prefix="joelclaw-chaos-"))
    llm = FakeLLM()  # its key is the fake's default, "sk-test"
    llm.reply = MemoryLLM(observer=observer_reply)
    llm.start()
    system = System(home, args.lease, llm.base_url)
    try:
        deadline = time.time() + 90
        while not system.healthy():
            if time.time() > deadline or system.proc.poll() is not None:
                raise SystemExit(f"joelclaw up did not become healthy; see {home}/up.log")
            time.sleep(0.5)
        report = run_chaos(system, args)
    finally:
        system.stop()
        llm.stop()
    print(json.dumps(report, indent=2))
    print(f"\nhome kept for inspection: {home}")


def run_chaos(system: System, args: argparse.Namespace) -> dict[str, Any]:
    acknowledged: list[str] = []
    sent = memory_acked = 0
    stop = threading.Event()
    kills: list[tuple[str, float]] = []
    recoveries: list[float] = []  # the recovery after each kill in `kills`, in order
    started = time.time()

    def killer() -> None:
        rng = random.Random(args.seed)
        turn: list[str] = []  # every victim once per round, in a shuffled order
        while not stop.wait(rng.expovariate(1 / args.kill_every)):
            if not turn:
                turn = rng.sample(args.victims, len(args.victims))
            role = turn.pop()
            if system.kill(role):
                kills.append((role, time.time()))
                print(f"killed {role}", file=sys.stderr)
                recoveries.append(recovery_time(system, stop))
                print(f"  recovered from {role} in {recoveries[-1]:.1f} s", file=sys.stderr)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    ends = time.time() + args.minutes * 60
    interval = 1 / args.rate
    while time.time() < ends:
        began = time.monotonic()
        event_id = f"chaos-{sent}"
        sent += 1
        if sent % MEMORY_EVERY == 0:  # the memory pipeline: a session to observe and store
            name, data = "chaos/session.ended", {
                "sessionId": event_id, "dedupeKey": event_id, "trigger": "backfill",
                "messageCount": 2, "messages": [
                    {"role": "user", "content": f"chaos fact number {sent} is remembered"},
                    {"role": "assistant", "content": "noted"}]}
        else:
            name, data = "chaos/work", {"n": sent}
        if system.send(name, event_id, data):
            acknowledged.append(event_id)
            memory_acked += name == "chaos/session.ended"
        time.sleep(max(0.0, interval - (time.monotonic() - began)))
    stop.set()
    thread.join(timeout=120)
    print(f"sent {sent}, acknowledged {len(acknowledged)}; waiting for the runs to end",
          file=sys.stderr)
    outcome = settle(system, acknowledged)
    measured = [(role, at, took) for (role, at), took
                in zip(kills, recoveries, strict=False)]  # a kill whose probe never ended: none
    return {"minutes": args.minutes, "seed": args.seed, "events_sent": sent,
            "events_acknowledged": len(acknowledged),
            "memory_sessions_acknowledged": memory_acked, **outcome,
            "kills": {role: sum(1 for r, _ in kills if r == role) for role in VICTIMS},
            "longest_recovery_s": round(max(recoveries), 1) if recoveries else None,
            "longest_recovery_by_kind_s": {
                role: round(max(t for r, _, t in measured if r == role), 1)
                for role in VICTIMS if any(r == role for r, _, _ in measured)},
            "each_kill": [{"role": role, "at_s": round(at - started, 1),
                           "recovery_s": round(took, 1)} for role, at, took in measured]}


def recovery_time(system: System, stop: threading.Event) -> float:
    """From now until a fresh probe event's run has completed."""
    began = time.time()
    probe = f"probe-{began}"
    while not system.send("chaos/probe", probe, {}):
        time.sleep(0.2)
    while time.time() - began < 300:
        try:
            client = redis_client(system.home)
            if client.get(f"jc:chaos:probe:{probe}"):
                return time.time() - began
        except Exception:
            pass
        time.sleep(0.2)
    return time.time() - began


def settle(system: System, acknowledged: list[str], timeout: float = 600) -> dict[str, Any]:
    """Wait for every acknowledged event's run to complete; count what went wrong."""
    from joelclaw.events.store import get_event

    deadline = time.time() + timeout
    pending = list(acknowledged)
    completed: set[str] = set()
    while pending and time.time() < deadline:
        try:
            client = redis_client(system.home)
            still = []
            for event_id in pending:
                record = get_event(client, event_id)
                runs = record.get("runs", []) if record else []
                done = runs and all(client.hget(f"jc:run:{r}", "status") == b"completed"
                                    for r in runs)
                (completed.add(event_id) if done else still.append(event_id))
            pending = still
        except Exception:
            pass
        if pending:
            time.sleep(2)
    client = redis_client(system.home)
    repeated = int(client.get("jc:chaos:finished-step-ran-again") or 0)
    missing = [e for e in pending if get_event(client, e) is None]
    return {"runs_completed": len(completed), "lost": len(pending),
            "lost_events_unknown_to_redis": len(missing),
            "finished_steps_ran_again": repeated, "lost_ids": pending[:20]}


if __name__ == "__main__":
    main()
