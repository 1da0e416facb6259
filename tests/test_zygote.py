"""`joelclaw up` forks its Python roles from its supervisor (joelclaw.supervisor.zygote): each
child is what `python -m <module>` would have been (its own session, environment, working
directory, stdin, output and exit status), restarted and stopped as any other, and it shares the
supervisor's pages instead of loading its own copy of every library."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from joelclaw.supervisor.zygote import available
from tests.support import REPO, wait_for

pytestmark = pytest.mark.skipif(not available(), reason="needs fork and setproctitle")

MIB = 1024 * 1024


class Host:
    """`tests.zygote_host` started as its own process (in its own session), its log, and the
    pids of the children it reported; stopped with SIGTERM, or killed at the end of the test."""

    def __init__(self, tmp_path: Path, name: str, args: list[str], *, preloaded: bool = False,
                 env: dict[str, str] | None = None, cwd: Path | None = None) -> None:
        self.log = tmp_path / f"{name}-host.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.zygote_host", str(self.log), name,
             "1" if preloaded else "0", *args],
            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
            cwd=str(cwd or REPO), start_new_session=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def reports(self, name: str) -> list[dict[str, object]]:
        prefix = f"{name} | {{"
        return [json.loads(line.split(" | ", 1)[1]) for line in self.output().splitlines()
                if line.startswith(prefix)]

    def wait(self, predicate: Callable[[], object], message: str) -> None:
        try:
            wait_for(predicate, timeout=30, message=message)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- host output ---\n{self.output()[-3000:]}") from None

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def cleanup(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        for report in self.reports(name):  # each child has a session of its own
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(str(report["pid"])), signal.SIGKILL)


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[Callable[..., Host]]:
    started: list[tuple[Host, str]] = []

    def start(name: str, args: list[str], **options: Any) -> Host:
        host = Host(tmp_path, name, args, **options)
        started.append((host, name))
        return host

    yield start
    for host, name in started:
        host.cleanup(name)


@pytest.mark.timeout(120)
def test_a_forked_child_runs_its_module_as_python_m_would_and_is_restarted_fresh(
    hosts: Callable[..., Host], tmp_path: Path,
) -> None:
    # Given a `python -m` child allowed to start on the supervisor's preloaded modules
    host = hosts("crash", ["3"], preloaded=True, env={"ZYGOTE_TEST": "given"}, cwd=tmp_path)
    # When it exits with 3, twice
    host.wait(lambda: len(host.reports("crash")) >= 2, "a start and a restart")
    assert host.stop() == 0
    first, second = host.reports("crash")[:2]
    # Then it was forked from the supervisor, in a session of its own, with the command's
    # environment, working directory, arguments and an empty stdin
    assert first["ppid"] == host.process.pid and first["sid"] == first["pid"]
    assert first["env"] == "given" and first["cwd"] == str(tmp_path)
    assert first["argv"] == ["3"] and first["stdin"] == ""
    # And its exit status is reported as an interpreter's would be, then it is restarted
    assert "crash exited with code 3 after" in host.output()
    # And the first start found the project's modules loaded; the restart imported them anew
    assert first["preloaded"] is True and second["preloaded"] is False
    assert "host | children left: []" in host.output()


@pytest.mark.timeout(120)
def test_a_forked_child_is_named_by_its_command_shares_pages_and_stops_on_sigterm(
    hosts: Callable[..., Host],
) -> None:
    host = hosts("sleeper", ["sleep"])
    host.wait(lambda: "sleeper | ready" in host.output(), "ready")
    [report] = host.reports("sleeper")
    assert report["ppid"] == host.process.pid
    process = psutil.Process(int(str(report["pid"])))
    # `ps` and psutil tell it by its command line, not the supervisor's
    assert " ".join(process.cmdline()).strip().endswith("-m tests.zygote_child sleep")
    # It maps the supervisor's libraries instead of loading its own: most of its pages are shared
    rollup = dict(line.split(":", 1) for line in
                  Path(f"/proc/{process.pid}/smaps_rollup").read_text().splitlines()[1:])
    kib = {k: int(v.split()[0]) * 1024 for k, v in rollup.items()}
    private = kib["Private_Clean"] + kib["Private_Dirty"]
    assert kib["Rss"] > 40 * MIB and private < kib["Rss"] / 2, kib
    # And a stop sends it SIGTERM, which ends it as it would end an interpreter
    assert host.stop() == 0
    assert f"sleeper stopped (killed by {signal.Signals.SIGTERM.name})" in host.output()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


# What a role restarted under `up` (a crash, `joelclaw reload`) does: `up` built the app before
# the fork; the restart drops the project's modules and builds it again from disk.
_REBUILD = """
import importlib, json, sys, warnings
from joelclaw.supervisor import zygote
assert zygote.prebuild("joelclaw.worker", dict(__import__("os").environ))
old = sys.modules["joelclaw.worker"].runtime
zygote.forget_project_modules()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    module = importlib.import_module("joelclaw.worker")
    tasks = module.app.tasks
ours = {name: task for name, task in tasks.items() if name.startswith("joelclaw.")}
def bus_of(task):
    run = task.run
    cells = dict(zip(run.__code__.co_freevars, run.__closure__ or ()))
    return cells["bus"].cell_contents if "bus" in cells else None
print(json.dumps({
    "tasks": sorted(ours),
    "bound_to_new": sorted(n for n, t in ours.items() if bus_of(t) is module.runtime),
    "bound_to_old": sorted(n for n, t in ours.items() if bus_of(t) is old),
    "duplicates": [str(w.message).splitlines()[0] for w in caught
                   if type(w.message).__name__ == "DuplicateTaskNameWarning"],
}))
"""


@pytest.mark.timeout(120)
def test_a_role_that_rebuilds_its_app_runs_its_new_functions_not_the_preloaded_ones(
    redis_url: str, tmp_path: Path,
) -> None:
    # Given the app `up` built before the fork, then built again from disk as a restart does
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOELCLAW_")}
    env.update(JOELCLAW_REDIS_URL=redis_url, JOELCLAW_HOME=str(tmp_path / "home"),
               PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", _REBUILD], env=env, cwd=str(REPO),
                          capture_output=True, text=True, timeout=100)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    # Then every function task, the canvas callbacks and the gateway's drain run on the new
    # runtime (its settings, its code state, the function code just read from disk)
    assert len(found["tasks"]) > 10 and "joelclaw.canvas.done" in found["tasks"]
    assert found["bound_to_new"] == found["tasks"]
    assert found["bound_to_old"] == []
    # And none was registered twice (the old closure would have won)
    assert found["duplicates"] == []
