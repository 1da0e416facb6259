"""`joelclaw up` and its Supervisor, against real processes on free loopback ports.

Every process a test starts is stopped in its teardown: supervised children run in their own
process groups and are killed by group; the `up` subprocess and everything under it are killed
by the psutil handles taken while they ran.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from joelclaw.config import Settings
from joelclaw.embedded import free_port
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.supervisor import (
    Backoff,
    Output,
    Supervisor,
    check_external_redis,
    commands,
    up,
)
from tests.support import REPO, plain_redis, wait_for

EXITING = [sys.executable, "-c", "print('tick', flush=True); raise SystemExit(3)"]
SLEEPING = [sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(600)"]
# Ignores SIGTERM and has a child of its own: only a SIGKILL of its whole group ends both.
STUBBORN = [sys.executable, "-c", (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)]
# The same, saying so each time it ignores a SIGTERM: the test sees the stop under way.
STUBBORN_SAYS = [sys.executable, "-c", (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: print('ignored SIGTERM', flush=True))\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print('ready', flush=True)\n"
    "while True:\n"
    "    time.sleep(600)\n"
)]


@pytest.fixture
def make_supervisor() -> Iterator[Callable[..., tuple[Supervisor, io.StringIO]]]:
    made: list[Supervisor] = []

    def make(**options: object) -> tuple[Supervisor, io.StringIO]:
        stream = io.StringIO()
        supervisor = Supervisor(Output(stream, colour=False), **options)  # type: ignore[arg-type]
        made.append(supervisor)
        return supervisor, stream

    yield make
    for supervisor in made:
        supervisor.kill_now()
        supervisor.stop()


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_backoff_doubles_up_to_the_cap_and_resets_after_a_stable_run() -> None:
    backoff = Backoff()
    delays, crashes = [], 0
    for _ in range(7):
        crashes = backoff.crashes(crashes, uptime=0.5)
        delays.append(backoff.delay(crashes))
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.crashes(crashes, uptime=11) == 1 and backoff.delay(1) == 1


def test_output_prefixes_each_line_with_the_padded_name() -> None:
    stream = io.StringIO()
    output = Output(stream, colour=False)
    for name in ("web", "gateway"):
        output.register(name)
    output.line("web", "listening")
    output.line("up", "started")
    assert stream.getvalue() == "web     | listening\nup      | started\n"


@pytest.mark.timeout(60)
def test_a_child_that_dies_is_restarted_with_growing_backoff(
    make_supervisor: Callable[..., tuple[Supervisor, io.StringIO]],
) -> None:
    # Given a child that exits at once, and a healthy one beside it
    supervisor, stream = make_supervisor()
    dying = supervisor.add("dying", EXITING)
    steady = supervisor.add("steady", SLEEPING)
    # When the supervisor runs
    runner = threading.Thread(target=supervisor.run_until_stopped)
    supervisor.start()
    runner.start()
    wait_for(lambda: len(dying.start_times) >= 3, timeout=20, message="two restarts")
    # Then it was restarted after about 1 s, then about 2 s, saying so each time
    first, second = (b - a for a, b in zip(dying.start_times, dying.start_times[1:], strict=False))
    assert 1.0 <= first < 2.5, first
    assert 2.0 <= second < 3.5, second
    log = stream.getvalue()
    assert "dying exited with code 3 after" in log
    assert "restarting in 1s" in log and "restarting in 2s" in log
    assert "dying  | tick" in log
    # And the healthy child was never restarted; stopping ends every child
    steady_process = psutil.Process(steady.pid)
    supervisor.request_stop()
    runner.join(15)
    assert not runner.is_alive()
    assert len(steady.start_times) == 1
    assert not steady_process.is_running()
    assert supervisor.pids() == []


@pytest.mark.timeout(60)
def test_stop_terms_children_then_kills_stragglers_and_their_groups(
    make_supervisor: Callable[..., tuple[Supervisor, io.StringIO]],
) -> None:
    supervisor, stream = make_supervisor(stop_timeout=1.5)
    sleeper = supervisor.add("sleeper", SLEEPING)
    stubborn = supervisor.add("stubborn", STUBBORN)
    supervisor.start()
    wait_for(lambda: stream.getvalue().count("| ready") == 2, message="children ready")
    wait_for(lambda: descendants(stubborn.pid or 0), message="grandchild started")
    processes = [psutil.Process(sleeper.pid), psutil.Process(stubborn.pid),
                 *descendants(stubborn.pid or 0)]

    supervisor.stop()

    _, alive = psutil.wait_procs(processes, timeout=5)
    assert alive == []
    log = stream.getvalue()
    # SIGKILL only once the stop timeout ran out (said when it does), the obedient one by SIGTERM
    waited = log.index("still running after 1.5s, killing: stubborn")
    assert waited < log.index("stubborn stopped (killed by SIGKILL)")
    assert "sleeper stopped (killed by SIGTERM)" in log


@pytest.mark.timeout(30)
def test_kill_now_ends_a_graceful_stop_at_once(
    make_supervisor: Callable[..., tuple[Supervisor, io.StringIO]],
) -> None:
    supervisor, stream = make_supervisor(stop_timeout=30)
    stubborn = supervisor.add("stubborn", STUBBORN_SAYS)
    supervisor.start()
    wait_for(lambda: "| ready" in stream.getvalue(), message="child ready")
    stopping = threading.Thread(target=supervisor.stop)
    stopping.start()
    wait_for(lambda: "| ignored SIGTERM" in stream.getvalue(), message="the SIGTERM ignored")
    assert stopping.is_alive()  # waiting for a child that ignores SIGTERM

    supervisor.kill_now()  # what a second Ctrl-C does

    stopping.join(5)
    assert not stopping.is_alive()
    assert not stubborn.running
    assert "killed every process at once" in stream.getvalue()


def _settings(home: Path, **values: object) -> Settings:
    return Settings(_env_file=None, home=home, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("which", ["web", "flower"])
def test_a_busy_port_is_named_and_exits_2_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        ports = {"web_port": free_port(), "flower_port": free_port()}
        ports[f"{which}_port"] = busy
        before = psutil.Process().children(recursive=True)

        code = up(_settings(tmp_path / "home", **ports))

        assert code == 2
        variable = f"JOELCLAW_{which.upper()}_PORT"
        assert capsys.readouterr().err.strip() == (
            f"joelclaw up: port {busy} is in use: set {variable} to a free port"
        )
        assert psutil.Process().children(recursive=True) == before
        assert not (tmp_path / "home" / "redis").exists()


def test_flower_is_always_behind_basic_auth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from joelclaw import flower as flower_launcher
    from joelclaw.credentials import flower_file

    exposed = _settings(tmp_path / "home", flower_address="0.0.0.0", web_port=free_port(),
                        flower_port=free_port())
    # Half a configuration is refused before anything starts
    assert up(exposed.with_overrides(flower_user="owner")) == 2
    assert "JOELCLAW_FLOWER_PASSWORD" in capsys.readouterr().err
    # Nothing configured: a generated pair (kept 0600), in Flower's environment, never argv;
    # whatever the environment says, the API is never opened without it
    flower = next(c for c in commands(exposed) if c.name == "flower")
    base = {"FLOWER_UNAUTHENTICATED_API": "true", "PATH": "/bin"}
    env = flower_launcher.environment(exposed, flower.environment(base))
    user, _, password = env["FLOWER_BASIC_AUTH"].partition(":")
    assert user == "joelclaw" and len(password) >= 24
    assert flower_file(exposed).read_text() == f"{user}:{password}"
    assert (flower_file(exposed).stat().st_mode & 0o777) == 0o600
    assert "FLOWER_UNAUTHENTICATED_API" not in env
    assert password not in " ".join(flower_launcher.argv(exposed) + flower.argv)
    # Configured credentials win
    protected = exposed.with_overrides(flower_user="owner", flower_password="s3cret")
    assert flower_launcher.environment(protected, {})["FLOWER_BASIC_AUTH"] == "owner:s3cret"


def test_an_unreachable_redis_is_reported_and_nothing_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    before = psutil.Process().children(recursive=True)

    code = up(_settings(tmp_path / "home", redis_url=dead, web_port=free_port(),
                        flower_port=free_port()))

    assert code == 1
    error = capsys.readouterr().err
    assert "cannot reach Redis at redis://:***@127.0.0.1:" in error and "hunter2" not in error
    assert psutil.Process().children(recursive=True) == before


def test_a_redis_that_may_evict_is_reported(tmp_path: Path) -> None:
    # An external Redis of the owner's (the embedded one refuses CONFIG SET)
    with plain_redis(tmp_path, "--maxmemory-policy", "allkeys-lru") as url:
        warnings: list[str] = []
        check_external_redis(url, warnings.append, accept_eviction=True)  # else it refuses
    assert [w for w in warnings if "allkeys-lru" in w] == warnings[:1]
    assert "AOF is off" in warnings[1]  # plain_redis runs without AOF: said too


# --- end to end ---------------------------------------------------------------------------------


class UpProcess:
    """`up()` in a subprocess of its own session; remembers every process seen beneath it."""

    def __init__(self, home: Path, log_path: Path, **settings: str):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JOELCLAW_", "FLOWER_"))}
        env.update({f"JOELCLAW_{k.upper()}": v for k, v in settings.items()})
        env["JOELCLAW_HOME"] = str(home)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        self.log_path = log_path
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from joelclaw.supervisor import up; raise SystemExit(up())"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.seen: dict[int, psutil.Process] = {}

    def snapshot(self) -> list[psutil.Process]:
        for process in descendants(self.process.pid):
            self.seen.setdefault(process.pid, process)
        return list(self.seen.values())

    def child(self, marker: str) -> psutil.Process:
        """The direct child of `up` whose command line contains `marker`."""
        for process in psutil.Process(self.process.pid).children():
            if marker in " ".join(process.cmdline()):
                self.seen.setdefault(process.pid, process)
                return process
        raise psutil.NoSuchProcess(0, msg=f"no child running {marker}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, predicate: Callable[[], object], *, timeout: float, message: str) -> object:
        """`wait_for`, failing with the tail of `up`'s output to show why."""
        try:
            return wait_for(predicate, timeout=timeout, message=message)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- up output ---\n{self.output()[-4000:]}") from None

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.snapshot()
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        for process in self.seen.values():
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                process.kill()  # psutil checks it is still the same process before signalling
        psutil.wait_procs(list(self.seen.values()), timeout=10)
        self.log.close()


@pytest.fixture
def up_process(tmp_path: Path) -> Iterator[Callable[..., UpProcess]]:
    started: list[UpProcess] = []

    def start(**settings: str) -> UpProcess:
        process = UpProcess(tmp_path / "home", tmp_path / "up.log", **settings)
        started.append(process)
        return process

    yield start
    for process in started:
        process.cleanup()


def _cmdline(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        return " ".join(process.cmdline())
    return ""


def _get(url: str, **kwargs: object) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError:
        return None


@pytest.mark.timeout(180)
def test_up_runs_the_system_and_stops_cleanly_on_ctrl_c(
    tmp_path: Path, up_process: Callable[..., UpProcess], capsys: pytest.CaptureFixture[str]
) -> None:
    web_port, flower_port = free_port(), free_port()
    home = tmp_path / "home"
    system = up_process(web_port=str(web_port), flower_port=str(flower_port),
                        flower_user="owner", flower_password="s3cret")
    url_file = home / "redis" / "url"

    # Given `up` with no Redis configured: it starts one and records where
    wait_for(lambda: url_file.exists() or system.process.poll() is not None, timeout=30,
             message="the embedded Redis URL file")
    assert system.process.poll() is None, system.output()
    redis_url = url_file.read_text().strip()
    token = (home / "secrets" / "api-token").read_text().strip()  # generated: none configured

    # Then /health turns 200 once Redis, a worker and beat are all alive (with the token)
    health = f"http://127.0.0.1:{web_port}/health"
    response = system.wait_for(
        lambda: (r := _get(health, headers={"Authorization": f"Bearer {token}"})) is not None
        and r.status_code == 200 and r,
        timeout=90, message="200 from /health",
    )
    assert httpx.get(health, timeout=5).status_code == 401  # loopback, no token: refused
    assert isinstance(response, httpx.Response)
    body = response.json()
    assert body["ok"] is True
    assert body["components"]["redis"]["ok"] and body["components"]["beat"]["ok"]
    assert body["components"]["workers"]["alive"] >= 1
    missing = httpx.get(f"http://127.0.0.1:{web_port}/api/no-such-route", timeout=5)
    assert missing.status_code == 404 and missing.json()["ok"] is False
    page = httpx.get(f"http://127.0.0.1:{web_port}/no-such-page", timeout=5)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")

    # And an event sent with joelclaw's own API runs its function to completion
    runtime = Runtime(_settings(home, redis_url=redis_url))
    runtime.send(Event(name="system/heartbeat.wake"))

    def completed() -> bool:
        return any(r.status == "completed" for r in runtime.runs.list(function="system-heartbeat"))

    system.wait_for(completed, timeout=60, message="the system-heartbeat run to complete")

    # And Flower answers, with its API behind the configured basic auth
    flower = f"http://127.0.0.1:{flower_port}"
    wait_for(lambda: (r := _get(f"{flower}/healthcheck")) is not None and r.status_code == 200,
             timeout=30, message="flower healthcheck")
    assert httpx.get(f"{flower}/api/workers", timeout=10).status_code == 401
    authed = httpx.get(f"{flower}/api/workers", auth=("owner", "s3cret"), timeout=10)
    assert authed.status_code == 200

    # And everything under JOELCLAW_HOME is the owner's alone; Redis wants its password
    _assert_owner_only(home)
    assert (url_file.stat().st_mode & 0o777) == 0o600 and ":@" not in redis_url
    password = (home / "redis" / "password").read_text().strip()
    assert password in redis_url
    bare = redis.Redis.from_url(redis_url.replace(f":{password}@", ""))
    with pytest.raises(redis.exceptions.AuthenticationError):
        bare.ping()
    owner_client = redis.Redis.from_url(redis_url)
    with pytest.raises(redis.exceptions.NoPermissionError):
        owner_client.config_set("dir", str(tmp_path))
    assert owner_client.config_get("maxmemory")["maxmemory"] == str(1024 ** 3)
    assert owner_client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    cmdline = " ".join(_cmdline(p) for p in system.snapshot())
    assert password not in cmdline and token not in cmdline

    output = system.output()
    assert "Ctrl-C to stop" in output and f"http://127.0.0.1:{web_port}" in output
    assert f"the token in {home / 'secrets' / 'api-token'}" in output
    assert token not in output and password not in output
    # nothing the supervisor preloads makes a role's own start warn (runpy's "found in
    # sys.modules": a module a role runs with -m, imported before it ran)
    assert "RuntimeWarning" not in output, output
    assert "worker  | " in output and "gateway | " in output
    assert "s3cret" not in output

    # And a process that dies is restarted, its leftover pool processes killed with it
    gateway = system.child("gateway@%h")
    pool = descendants(gateway.pid)
    gateway.kill()
    wait_for(lambda: "gateway killed by SIGKILL after" in system.output(), timeout=15,
             message="the supervisor to notice the dead gateway")
    assert "restarting in 1s" in system.output()
    restarted = wait_for(lambda: _other_child(system, "gateway@%h", gateway.pid), timeout=30,
                         message="a new gateway process")
    assert restarted.pid != gateway.pid
    _, alive = psutil.wait_procs(pool, timeout=5)
    assert alive == []
    wait_for(lambda: _gateway_ready_lines(system.output()) >= 2, timeout=30,
             message="the restarted gateway to be ready")

    # And a second `up` on the same JOELCLAW_HOME refuses to run a second Redis on its files
    assert up(_settings(home, web_port=free_port(), flower_port=free_port())) == 1
    assert "another `joelclaw up` is already running" in capsys.readouterr().err

    # When it gets Ctrl-C from a terminal (SIGINT to its whole foreground process group)
    processes = system.snapshot()
    assert len(processes) >= 6  # redis, web (+ its workers), worker, gateway, beat, flower
    os.killpg(system.process.pid, signal.SIGINT)

    # Then it exits 0 in time, leaving no process behind and no stale Redis URL
    assert system.process.wait(40) == 0, system.output()[-3000:]
    _, alive = psutil.wait_procs(processes, timeout=5)
    assert alive == [], [p.pid for p in alive]
    assert not url_file.exists()
    for name in ("web", "worker", "gateway", "beat", "flower"):
        assert f"{name} stopped (exited with code 0)" in system.output()
    # And Redis outlived the workers: the terminal's SIGINT did not reach it, our SIGTERM did
    redis_log = (home / "redis" / "redis.log").read_text()
    assert "Received SIGTERM" in redis_log and "Received SIGINT" not in redis_log


def _assert_owner_only(home: Path) -> None:
    """No file or folder under `home` is readable, writable or enterable by anyone else."""
    assert (home.stat().st_mode & 0o077) == 0, oct(home.stat().st_mode)
    shared = [f"{oct(p.lstat().st_mode & 0o777)} {p}" for p in home.rglob("*")
              if not p.is_symlink() and p.lstat().st_mode & 0o077]
    assert shared == [], shared


def _gateway_ready_lines(output: str) -> int:
    return sum(1 for line in output.splitlines()
               if line.startswith("gateway | ") and line.endswith(" ready."))


def _other_child(system: UpProcess, marker: str, old_pid: int) -> psutil.Process | None:
    with contextlib.suppress(psutil.NoSuchProcess):
        child = system.child(marker)
        if child.pid != old_pid and child.is_running():
            return child
    return None
