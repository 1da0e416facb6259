"""`joelclaw up` forks its Python roles from its supervisor (joelclaw.supervisor.zygote): each
child is what `python -m <module>` would have been (its own session, environment, working
directory, stdin, output and exit status), restarted and stopped as any other, and it shares the
supervisor's pages instead of loading its own copy of every library."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from joelclaw.supervisor import Output, Supervisor
from joelclaw.supervisor.zygote import Forked, available
from tests.support import REPO, wait_for

pytestmark = pytest.mark.skipif(not available(), reason="needs fork and setproctitle")

CHILD = [sys.executable, "-m", "tests.zygote_child"]
MIB = 1024 * 1024


@pytest.fixture
def supervisor() -> Iterator[tuple[Supervisor, io.StringIO]]:
    stream = io.StringIO()
    made = Supervisor(Output(stream, colour=False), fork=True)
    yield made, stream
    made.kill_now()
    made.stop()


def _reports(stream: io.StringIO, name: str) -> list[dict[str, object]]:
    prefix = f"{name} | {{"
    return [json.loads(line.split(" | ", 1)[1]) for line in stream.getvalue().splitlines()
            if line.startswith(prefix)]


@pytest.mark.timeout(60)
def test_a_forked_child_runs_its_module_as_python_m_would_and_is_restarted_fresh(
    supervisor: tuple[Supervisor, io.StringIO], tmp_path: Path,
) -> None:
    # Given a `python -m` child allowed to start on the supervisor's preloaded modules
    sup, stream = supervisor
    env = {**os.environ, "ZYGOTE_TEST": "given", "PYTHONPATH": str(REPO)}
    child = sup.add("crash", [*CHILD, "3"], env, str(tmp_path), preloaded=True)
    runner = threading.Thread(target=sup.run_until_stopped)
    sup.start()
    runner.start()
    try:
        # When it exits with 3, twice
        wait_for(lambda: len(_reports(stream, "crash")) >= 2, timeout=30,
                 message="a start and a restart")
    finally:
        sup.request_stop()
        runner.join(15)
    first, second = _reports(stream, "crash")[:2]
    # Then it was forked from this process, in a session of its own, with the command's
    # environment, working directory, arguments and an empty stdin
    assert isinstance(child.process, Forked | None)
    assert first["ppid"] == os.getpid() and first["sid"] == first["pid"]
    assert first["env"] == "given" and first["cwd"] == str(tmp_path)
    assert first["argv"] == ["3"] and first["stdin"] == ""
    # And its exit status is reported as an interpreter's would be, then it is restarted
    assert "crash exited with code 3 after" in stream.getvalue()
    # And the first start found the project's modules loaded; the restart imported them anew
    assert first["preloaded"] is True and second["preloaded"] is False
    assert not runner.is_alive() and sup.pids() == []


@pytest.mark.timeout(60)
def test_a_forked_child_is_named_by_its_command_shares_pages_and_stops_on_sigterm(
    supervisor: tuple[Supervisor, io.StringIO],
) -> None:
    sup, stream = supervisor
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = sup.add("sleeper", [*CHILD, "sleep"], env)
    sup.start()
    wait_for(lambda: "sleeper | ready" in stream.getvalue(), timeout=30, message="ready")
    assert child.pid is not None
    process = psutil.Process(child.pid)
    # `ps` and psutil tell it by its command line, not the supervisor's
    assert " ".join(process.cmdline()).strip().endswith("-m tests.zygote_child sleep")
    # It maps this process's libraries instead of loading its own: most of its pages are shared
    rollup = dict(line.split(":", 1) for line in
                  Path(f"/proc/{child.pid}/smaps_rollup").read_text().splitlines()[1:])
    kib = {k: int(v.split()[0]) * 1024 for k, v in rollup.items()}
    private = kib["Private_Clean"] + kib["Private_Dirty"]
    assert kib["Rss"] > 40 * MIB and private < kib["Rss"] / 2, kib
    # And a stop sends it SIGTERM, which ends it as it would end an interpreter
    sup.stop()
    assert f"sleeper stopped (killed by {signal.Signals.SIGTERM.name})" in stream.getvalue()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
