"""Child processes under supervision: start, stream output with a prefix, restart with
backoff, stop warm then hard."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, TextIO

from joelclaw.bus.celery import RELOAD_EXIT  # a child asking to be started again at once
from joelclaw.durations.backoff import exponential
from joelclaw.errors import JoelclawError
from joelclaw.supervisor import zygote
from joelclaw.supervisor.logfiles import LogFiles

SELF = "up"  # the prefix of the supervisor's own lines
STOP_TIMEOUT = 30.0  # a warm Celery shutdown lets running tasks finish; this long at most
COLOURS = ("36", "33", "32", "35", "34", "31")


@dataclass(frozen=True)
class Backoff:
    """Restart delays: base, doubled per quick crash up to `cap` (the project's one back-off
    schedule, joelclaw.durations.backoff); the count starts again once a child stayed up.

    A crash loop (a bad setting, an import error) exits within seconds of each start; a child
    that ran for `stable_after` seconds and was then killed (SIGKILL, the OOM killer) is not
    one and comes back after `base`: with a longer window, a Redis killed every 40 s waited
    30 s to return while every process waited on it."""

    base: float = 1.0
    cap: float = 30.0
    stable_after: float = 10.0

    def crashes(self, previous: int, uptime: float) -> int:
        """Quick crashes in a row, this exit included."""
        return 1 if uptime >= self.stable_after else previous + 1

    def delay(self, crashes: int) -> float:
        return exponential(crashes, base=self.base, cap=self.cap)


class Output:
    """Writes lines prefixed with a padded, coloured (on a terminal) process name."""

    def __init__(self, stream: TextIO | None = None, *, colour: bool | None = None,
                 files: LogFiles | None = None):
        self.stream = stream or sys.stdout
        self.files = files  # also one file per process (joelclaw logs reads them)
        if colour is None:
            colour = _isatty(self.stream) and "NO_COLOR" not in os.environ
        self.colour = colour
        self.width = len(SELF)
        self.colours: dict[str, str] = {SELF: "1"}
        self.lock = threading.Lock()  # held by whoever writes, and across a fork (zygote)

    def register(self, name: str) -> None:
        self.width = max(self.width, len(name))
        self.colours.setdefault(name, COLOURS[(len(self.colours) - 1) % len(COLOURS)])

    def line(self, name: str, text: str) -> None:
        prefix = f"{name.ljust(self.width)} | "
        if self.colour:
            prefix = f"\033[{self.colours.get(name, '0')}m{prefix}\033[0m"
        with self.lock, contextlib.suppress(OSError, ValueError):
            if self.files is not None:
                self.files.write(name, text)
            self.stream.write(prefix + text + "\n")
            self.stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Child:
    """One supervised command; restarted with backoff until the supervisor stops."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    cwd: str | None = None
    process: subprocess.Popen[bytes] | zygote.Forked | None = field(default=None, repr=False)
    started_at: float = 0.0
    restart_at: float | None = None
    delay: float | None = None
    crashes: int = 0  # quick crashes in a row (Backoff)
    start_times: list[float] = field(default_factory=list)
    reader: threading.Thread | None = field(default=None, repr=False)
    # A service (the embedded Redis, Typesense) starts before the others and is ready first
    # (`ready` answers True), and stops after them, so workers can still acknowledge their tasks.
    service: bool = False
    ready: Callable[[], bool] | None = field(default=None, repr=False)
    awaiting_ready: bool = False
    # Forked (zygote): may its first start use the project modules the supervisor preloaded?
    # Every restart imports them from disk (a reload's new code).
    preloaded: bool = False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def signal(self, signum: int) -> None:
        """Only the leader: a Celery worker shuts its own pool down warm."""
        if self.running and self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def kill_group(self) -> None:
        """SIGKILL the whole process group: pool processes and gunicorn workers included."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)


class ServiceFailed(JoelclawError):
    """A service child exited or was not ready in time at start."""


class Supervisor:
    """Starts children, streams their output, restarts the ones that die, stops them all."""

    def __init__(
        self,
        output: Output | None = None,
        *,
        backoff: Backoff | None = None,
        stop_timeout: float = STOP_TIMEOUT,
        poll_interval: float = 0.2,
        fork: bool = False,
    ):
        self.output = output or Output()
        self.fork = fork  # `python -m` children forked from this (preloaded) process: zygote
        self.backoff = backoff or Backoff()
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.children: list[Child] = []
        self._stop = threading.Event()
        self._stop_reason = ""
        self._force = False
        self._stopped = False

    def add(self, name: str, argv: list[str], env: dict[str, str] | None = None,
            cwd: str | None = None, *, service: bool = False,
            ready: Callable[[], bool] | None = None, preloaded: bool = False) -> Child:
        child = Child(name, list(argv), env, cwd, service=service, ready=ready,
                      preloaded=preloaded)
        self.children.append(child)
        self.output.register(name)
        return child

    def log(self, message: str) -> None:
        self.output.line(SELF, message)

    def start(self, ready_timeout: float = 60.0) -> None:
        """Services first, each ready before anything else starts; then the other children."""
        for child in self.children:
            if child.service and child.process is None:
                self._spawn(child)
                self.wait_ready(child, ready_timeout)
        for child in self.children:
            if not child.service:
                self._spawn(child)

    def wait_ready(self, child: Child, timeout: float) -> None:
        """Block until `child.ready()`; ServiceFailed if it exits or takes longer."""
        deadline = time.monotonic() + timeout
        while child.ready is not None and not child.ready():
            code = child.process.poll() if child.process is not None else 1
            if code is not None:
                raise ServiceFailed(f"{child.name} {_describe_exit(code)} at start")
            if time.monotonic() >= deadline:
                raise ServiceFailed(f"{child.name} was not ready after {timeout:g}s")
            time.sleep(0.05)
        child.awaiting_ready = False

    def _spawn(self, child: Child) -> None:
        child.restart_at = None
        try:
            if self.fork and zygote.forkable(child.argv):
                zygote.settle()
                with self.output.lock:  # no thread is halfway through a write at the fork
                    fresh = not child.preloaded or bool(child.start_times)
                    child.process = zygote.fork(child.argv, child.env, child.cwd, fresh)
            else:
                child.process = subprocess.Popen(
                    child.argv, env=child.env, cwd=child.cwd, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                )
        except OSError as exc:
            self.log(f"could not start {child.name}: {exc}")
            child.process = None
            self._schedule_restart(child, uptime=0.0)
            return
        child.started_at = time.monotonic()
        child.start_times.append(child.started_at)
        child.awaiting_ready = child.ready is not None and len(child.start_times) > 1
        if child.awaiting_ready:
            self.log(f"{child.name} restarted (pid {child.process.pid})")
        child.reader = threading.Thread(
            target=self._pump, args=(child.name, child.process.stdout),
            name=f"output-{child.name}", daemon=True,
        )
        child.reader.start()

    def _pump(self, name: str, stream: IO[bytes] | None) -> None:
        if stream is None:
            return
        with stream:
            for raw in iter(stream.readline, b""):
                self.output.line(name, raw.decode("utf-8", "replace").rstrip("\r\n"))

    def poll(self) -> None:
        """One supervision pass: notice exits, start what is due to restart."""
        now = time.monotonic()
        for child in self.children:
            code = child.process.poll() if child.process is not None else None
            if code is not None:
                self._on_exit(child, code, now)
            elif child.restart_at is not None and now >= child.restart_at:
                self._spawn(child)
            elif child.awaiting_ready and child.ready is not None and child.ready():
                child.awaiting_ready = False
                self.log(f"{child.name} is ready again after its restart")

    def _on_exit(self, child: Child, code: int, now: float) -> None:
        uptime = now - child.started_at
        child.kill_group()  # a dead Celery main process can leave its pool behind
        child.process = None
        if code == RELOAD_EXIT:  # restarting for `joelclaw reload`: at once, no backoff
            self.log(f"{child.name} restarts on the reloaded code")
            child.delay, child.restart_at = None, now
            return
        delay = self._schedule_restart(child, uptime)
        self.log(f"{child.name} {_describe_exit(code)} after {uptime:.1f}s; "
                 f"restarting in {delay:g}s")

    def _schedule_restart(self, child: Child, uptime: float) -> float:
        child.crashes = self.backoff.crashes(child.crashes, uptime)
        child.delay = self.backoff.delay(child.crashes)
        child.restart_at = time.monotonic() + child.delay
        return child.delay

    def run_until_stopped(self) -> None:
        """Supervise until `request_stop()` (a signal handler calls it), then stop everything."""
        while not self._stop.wait(self.poll_interval):
            self.poll()
        if self._stop_reason:
            self.log(f"{self._stop_reason}: stopping (press Ctrl-C again to kill at once)")
        self.stop()

    def request_stop(self, reason: str = "") -> None:
        """Safe from a signal handler: only sets flags."""
        self._stop_reason = self._stop_reason or reason
        self._stop.set()

    def kill_now(self) -> None:
        """Safe from a signal handler: SIGKILL every child group, no waiting, no output."""
        self._force = True
        self._stop.set()
        for child in list(self.children):
            child.kill_group()

    def stop(self) -> None:
        """SIGTERM every child, wait up to `stop_timeout`, SIGKILL stragglers and leftovers."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        for services in (False, True):  # services last: workers still need Redis to stop warm
            group = [c for c in self.children if c.service == services]
            running = [c for c in group if c.running]
            for child in running:
                child.signal(signal.SIGTERM)
            self._wait_for_exit(running)
            for child in group:
                self._finish(child)
        if self._force:
            self.log("killed every process at once")

    def _wait_for_exit(self, running: list[Child]) -> None:
        deadline = time.monotonic() + self.stop_timeout
        while any(c.running for c in running) and not self._force:
            if time.monotonic() >= deadline:
                names = ", ".join(c.name for c in running if c.running)
                self.log(f"still running after {self.stop_timeout:g}s, killing: {names}")
                break
            time.sleep(0.05)

    def _finish(self, child: Child) -> None:
        child.restart_at = None
        if child.process is None:
            return
        child.kill_group()
        code = child.process.wait()
        if child.reader is not None:
            child.reader.join(timeout=2)
        self.log(f"{child.name} stopped ({_describe_exit(code)})")

    def signal(self, name: str, signum: int) -> bool:
        """Send `signum` to the running child called `name` (its leader only)."""
        for child in self.children:
            if child.name == name and child.running:
                child.signal(signum)
                return True
        return False

    def pids(self) -> list[int]:
        return [c.process.pid for c in self.children if c.process is not None and c.running]


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


# --- `joelclaw up` ------------------------------------------------------------------------------

