"""Test support: real servers and real worker processes, started and stopped by fixtures."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from joelclaw import keys
from joelclaw.config import Settings
from joelclaw.events import index_backlog

REPO = Path(__file__).resolve().parent.parent
# Which redis-server the fixtures launch (pytest --redis-server; None: the newest found).
REDIS_SERVER: str | None = None


# How many times its stated timeout a wait may take before it fails the test. A timeout here is
# a bound on liveness, never the behaviour under test: a wait returns the moment its condition
# holds, so a larger bound costs a passing test nothing and lets a machine whose cores are all
# busy (CI, bench/saturate.py) take five times as long. JOELCLAW_TEST_PATIENCE=1 to fail fast.
PATIENCE = float(os.environ.get("JOELCLAW_TEST_PATIENCE", "3"))


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05,
             message: str = "condition") -> Any:
    """Poll until `predicate()` is truthy; fail the test with `message` after `timeout` (times
    PATIENCE)."""
    allowed = timeout * PATIENCE
    deadline = time.monotonic() + allowed
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {allowed:g}s waiting for {message}")
        time.sleep(interval)


GATE = "jc:test:gate:"  # a step held at gate <name> waits for this key + name to exist


def wait_at_gate(client: Any, name: str, timeout: float = 120.0) -> None:
    """Hold a step until the test opens gate `name` (counting each arrival in
    `jc:test:gate:<name>:entered`): the step is "in progress" for exactly as long as the test
    needs, however slow the machine, instead of for a guessed number of seconds."""
    client.incr(f"{GATE}{name}:entered")
    deadline = time.monotonic() + timeout
    while not client.exists(GATE + name):
        if time.monotonic() > deadline:
            raise RuntimeError(f"gate {name!r} was never opened")
        time.sleep(0.02)


def open_gate(client: Any, name: str) -> None:
    client.set(GATE + name, 1)


def gate_entered(client: Any, name: str) -> int:
    """How many times a step arrived at gate `name`."""
    return int(client.get(f"{GATE}{name}:entered") or 0)


def settled(rt: Any, *, held: int = 0) -> bool:
    """Nothing is left to happen on its own (see `unsettled`)."""
    return not unsettled(rt, held=held)


def unsettled(rt: Any, *, held: int = 0) -> str:
    """What is still to happen, in words; "" once nothing is left to happen on its own.

    Nothing is left to happen on its own: no Celery message waits or is held unacknowledged
    (bar gateway drain requests: a drain with nothing to claim does nothing, and a SIGKILLed
    worker's one lingers in kombu's unacked hash until its visibility timeout), no run is queued
    or running, none waits to be published again (outbox) or is due to wake, the gateway's
    queue holds just `held` waiting messages (e.g. while asleep), none is claimed, and no drain
    is running. Read from upstream to downstream, so something moving along the path between
    two reads is still seen: it can only leave by finishing.

    The check for "nothing more happens" (no second reply, no repeated step): once it holds,
    anything that was going to happen has happened, however slow the machine. A plain Celery
    task a run waits on (step.task) is not covered between kombu's fetch and its unacked entry."""
    from joelclaw import keys
    from joelclaw.bus.records import RunStatus

    if messages := _broker_messages(rt):
        return f"broker messages {messages}"
    index_backlog.catch_up(rt.redis)
    run_ids = [raw.decode() for raw in rt.redis.zrange(keys.RUN_INDEX, 0, -1)]
    statuses = dict(zip(run_ids, rt.runs.statuses(run_ids), strict=True))
    if busy := {r: s for r, s in statuses.items() if s in (RunStatus.QUEUED, RunStatus.RUNNING)}:
        return f"runs not finished {busy}"
    if outbox := rt.redis.zrange(keys.OUTBOX, 0, -1, withscores=True):
        return f"outbox {outbox} (now {time.time():.3f})"
    if due := rt.redis.zrangebyscore(keys.WAKEUPS, "-inf", time.time(), withscores=True):
        return f"wake-ups due {due}"
    pipe = rt.redis.pipeline(transaction=False)
    for priority in range(4):
        pipe.zcard(keys.gw_queue(priority))
    pipe.zcard(keys.GW_INFLIGHT)
    pipe.exists(keys.GW_DRAIN_RUNNING)
    *waiting, inflight, draining = pipe.execute()
    if sum(waiting) != held or inflight or draining:
        return f"gateway: {waiting} waiting (expected {held}), {inflight} in flight, " \
               f"drain running: {bool(draining)}"
    return ""


def _broker_messages(rt: Any) -> list[str]:
    """The task names of every message in the broker's queues and unacked hash (Redis
    transport), gateway drain requests left out."""
    from joelclaw.bus.celery import queues
    from joelclaw.gateway.service import DRAIN_TASK

    options = dict(rt.celery.conf.broker_transport_options or {})
    messages = [json.loads(raw) for raw in
                queues.messages(rt.redis, queues.queue_names(rt), options)]
    names = [str(m.get("headers", {}).get("task")) for m in messages]
    return [name for name in names if name != DRAIN_TASK]


def wait_settled(rt: Any, *, held: int = 0, timeout: float = 30.0,
                 also: Callable[[], Any] = lambda: True) -> None:
    """Wait until `also()` (an upstream source, e.g. no Telegram update left unread) and
    `settled(rt)` hold together."""
    last = ["nothing read yet"]

    def done() -> bool:
        if not also():
            last[0] = "the upstream source is not drained"
            return False
        last[0] = unsettled(rt, held=held)
        return not last[0]

    try:
        wait_for(done, timeout, message=f"everything settled (and {held} gateway message(s) held)")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; still: {last[0]}") from None


def lease_passed(client: Any, seconds: float, name: str = "lease") -> None:
    """Return once `seconds` have passed on the Redis server's clock: a probe key set with that
    TTL has expired. For tests that something outlives (or does not outlive) a lease."""
    probe = f"jc:test:elapsed:{name}"
    client.set(probe, 1, px=max(1, int(seconds * 1000)))
    wait_for(lambda: not client.exists(probe), timeout=seconds + 30,
             message=f"{seconds}s to pass on the server's clock")


_LAPSE_PROBE = """
local left = redis.call('PTTL', KEYS[1])
if left > 0 then redis.call('SET', KEYS[2], 1, 'PX', left) end
return left
"""


def lapse_probe(client: Any, key: str, name: str) -> str:
    """A probe key that expires when `key` would (its remaining TTL, read and copied in one
    script on the server's clock). `lapsed(probe)` after something happened says whether that
    came after `key`'s lease ran out: an ordering against the lease, not a measured time."""
    probe = f"jc:test:lapse:{name}"
    left = int(client.eval(_LAPSE_PROBE, 2, key, probe))
    assert left > 0, f"{key} holds no lease to compare with ({left})"
    return probe


def lapsed(client: Any, probe: str) -> bool:
    return not client.exists(probe)


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment a child process needs to see exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOELCLAW_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        text = json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)
        env[f"JOELCLAW_{name.upper()}"] = text
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra)
    return env


def events_named(client: Any, name: str) -> list[dict[str, Any]]:
    """The stored events of this name (as the bus recorded them), oldest first."""
    index_backlog.catch_up(client)
    ids = [i.decode() for i in client.zrange(keys.events_by_name(name), 0, -1)]
    return [json.loads(client.hget(keys.event(i), "record"))["event"] for i in ids]


def stored_events(client: Any) -> int:
    """How many events the log holds, every send so far applied (the index backlog)."""
    index_backlog.catch_up(client)
    return int(client.zcard(keys.EVENT_LOG))


class WorkerProcess:
    """A real `celery worker` in its own process group, logging to a file."""

    def __init__(self, settings: Settings, log_path: Path, *, name: str, queues: str,
                 concurrency: int, extra_env: dict[str, str] | None = None,
                 app: str = "joelclaw.worker"):
        self.log_path = log_path
        command = [sys.executable, "-m", "celery", "-A", app, "worker",
                   "-Q", queues, "-c", str(concurrency), "-n", f"{name}@%h", "-l", "info",
                   "--without-gossip", "--without-mingle"]
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            command, cwd=REPO, env=env_for(settings, **(extra_env or {})),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, timeout: float = 40.0) -> WorkerProcess:
        def ready() -> bool:
            return b" ready." in self.log_path.read_bytes() or self.process.poll() is not None

        wait_for(ready, timeout, message=f"worker ready (log {self.log_path})")
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited: {self.log_path.read_text()[-3000:]}")
        return self

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill_child(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def kill_all(self) -> None:
        """SIGKILL the main process and every pool process at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def discard(self) -> None:
        """End it at once, pool included (a fixture's teardown: the test is over and nothing is
        asserted on a warm shutdown, which waits out the broker's poll and any held task)."""
        self.kill_all()
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill_all()
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def end_tree(process: subprocess.Popen[bytes], *, grace: float = 40.0,
             known: list[psutil.Process] | None = None) -> None:
    """Stop a process started in a session of its own (`joelclaw up`) and everything under it:
    SIGINT to its group, then SIGKILL to it and to every descendant still running once `grace`
    seconds passed. `up`'s roles run in sessions of their own, so a group kill of `up` alone
    would leave them running on the test Redis, consuming the next tests' runs. `known` adds
    descendants seen earlier (e.g. before a restart replaced them)."""
    tree = list(known or [])
    with contextlib.suppress(psutil.NoSuchProcess):
        tree += [p for p in psutil.Process(process.pid).children(recursive=True) if p not in tree]
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(psutil.NoSuchProcess):
            tree += [p for p in psutil.Process(process.pid).children(recursive=True)
                     if p not in tree]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    for child in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(tree, timeout=10)


def ready_together(*workers: WorkerProcess) -> list[WorkerProcess]:
    """Wait for workers started side by side (`worker_factory(..., wait=False)`): their starts
    overlap instead of queueing one behind the other."""
    return [worker.wait_ready() for worker in workers]


class ChildProcess:
    """A real `python <args>` of the project (beat, the watchdog) in its own session, logging to
    a file, seeing exactly `settings`; `stop()` may be called twice."""

    def __init__(self, settings: Settings, log_path: Path, *args: str) -> None:
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=env_for(settings, PYTHONUNBUFFERED="1"),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self) -> int | None:
        """Terminate (kill when that is not enough in time); the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
        return self.process.returncode


def beat_process(settings: Settings, log_path: Path, schedule: Path) -> ChildProcess:
    """A real `celery beat` of the project's app."""
    return ChildProcess(settings, log_path, "-m", "celery", "-A", "joelclaw.worker", "beat",
                        "-l", "info", "-s", str(schedule))


@contextlib.contextmanager
def plain_redis(folder: Path, *options: str) -> Iterator[str]:
    """A bare redis-server on a free port, as an external Redis of the owner's would be: no
    password, every command allowed (the embedded one refuses CONFIG SET); yields its URL."""
    import redis

    from joelclaw.embedded import free_port
    from joelclaw.embedded.redis import find_redis_binary

    port = free_port()
    server = subprocess.Popen([find_redis_binary(REDIS_SERVER), "--port", str(port),
                               "--bind", "127.0.0.1", "--save", "", "--dir", str(folder),
                               *options],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"

    def pings() -> bool:
        with contextlib.suppress(redis.RedisError):
            return bool(redis.Redis.from_url(url, socket_timeout=1).ping())
        return False

    try:
        wait_for(pings, timeout=15, message="a plain redis-server")
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # never leave it behind, however busy the machine
            server.kill()
            server.wait(10)
