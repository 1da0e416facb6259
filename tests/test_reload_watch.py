"""The code version and the `up --reload` watcher: which files count, what changes them, and
one real `joelclaw up --reload` that reloads a worker, beat and the web app on a file change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from joelclaw.application import codeversion
from joelclaw.embedded import free_port
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.supervisor.reloader import FileWatch
from tests.conftest import make_settings
from tests.support import REPO, end_tree, wait_for
from tests.test_reload import COUNTS, NEWCOMER, SLEEPER, Code


@pytest.fixture
def code(tmp_path: Path) -> Any:
    root = tmp_path / "code"
    root.mkdir()
    sys.path.insert(0, str(root))
    yield Code(root)
    sys.path.remove(str(root))


def _bump(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_the_version_follows_the_source_of_modules_and_packages(code: Code) -> None:
    code.write("v1", SLEEPER)
    package = code.root / "reload_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "more.py").write_text("X = 1\n")
    modules = [code.name, "reload_pkg"]
    first = codeversion.version_of(modules)
    assert first == codeversion.version_of(modules) and len(first) == 12
    files = dict(codeversion.module_files(modules))
    assert files[code.name] == [code.path]
    assert sorted(p.name for p in files["reload_pkg"]) == ["__init__.py", "more.py"]

    _bump(package / "more.py", "X = 2\n")
    second = codeversion.version_of(modules)
    assert second != first
    code.write("v2", SLEEPER)
    assert codeversion.version_of(modules) not in (first, second)
    assert codeversion.version_of([*modules, "no_such_module_here"]) != \
        codeversion.version_of(modules)  # a missing module counts, it does not crash


def test_the_watcher_reports_each_change_once(code: Code) -> None:
    code.write("v1", SLEEPER)
    watch = FileWatch([code.name])
    assert watch.files() == [code.path]
    assert watch.changed() is False
    code.write("v2", SLEEPER)
    assert watch.changed() is True
    assert watch.changed() is False  # the same change is not reported again
    code.path.unlink()
    assert watch.changed() is True  # a module that went away is a change too


@pytest.mark.timeout(240)
def test_up_reload_reloads_worker_beat_and_web_when_a_module_changes(
    tmp_path: Path, redis_url: str, code: Code
) -> None:
    code.write("v1", SLEEPER)
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOELCLAW_", "FLOWER_"))}
    web_port = free_port()
    env.update({"JOELCLAW_HOME": str(home), "JOELCLAW_REDIS_URL": redis_url,
                "JOELCLAW_FUNCTION_MODULES": code.name, "JOELCLAW_WEB_PORT": str(web_port),
                "JOELCLAW_API_TOKEN": "reload-test-token",
                "JOELCLAW_RELOAD_POLL_SECONDS": "0.3", "PYTHONPATH": code.pythonpath})
    log_path = tmp_path / "up.log"
    log = log_path.open("wb")
    system = subprocess.Popen(
        [sys.executable, "-m", "joelclaw.cli", "up", "--reload", "--no-flower", "--no-gateway",
         "--no-typesense"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    seen: list[psutil.Process] = []

    def web_functions() -> list[str] | None:
        try:
            reply = httpx.get(f"http://127.0.0.1:{web_port}/api/functions", timeout=5,
                              headers={"Authorization": "Bearer reload-test-token"})
        except httpx.HTTPError:
            return None
        return [f["id"] for f in reply.json()["functions"]] if reply.status_code == 200 else None

    def output() -> str:
        return log_path.read_text(errors="replace")

    def expect(text: str, timeout: float = 90) -> None:
        try:
            wait_for(lambda: text in output(), timeout, interval=0.2, message=repr(text))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- up output ---\n{output()[-5000:]}") from None

    try:
        expect("function module file(s) for changes (up --reload)")
        expect("worker@", 90)
        wait_for(lambda: output().count(" ready.") >= 1, 90, message="the worker ready")
        seen += psutil.Process(system.pid).children(recursive=True)
        assert "reload-newcomer" not in wait_for(web_functions, 60, message="the web's API")

        code.write("v2", SLEEPER, NEWCOMER)
        expect("a function module changed: joelclaw reload")
        expect("reload 1: code version")
        expect("worker restarts on the reloaded code")
        expect("beat restarts on the reloaded code")
        expect("reload 1: web restarts its workers on the new code (HUP)")
        wait_for(lambda: output().count(" ready.") >= 2, 90, message="the worker ready again")
        wait_for(lambda: "reload-newcomer" in (web_functions() or []), 60,
                 message="the web app's new workers listing the new function")

        settings = make_settings(home, redis_url, function_modules=[code.name])
        rt = Runtime(settings)  # this process has not imported the module: it reads v2
        run_id = rt.send(Event(name="test/reload.new", data={}))[0].runs[0]
        run = wait_for(lambda: (r := rt.runs.get(run_id)) and r.status == "completed" and r,
                       60, message="the new function's run")
        assert run.output == "v2"
        assert rt.redis.hget(COUNTS, "newcomer") == b"1"

        code.path.write_text("def broken(:\n")  # broken code: refused, nothing restarts
        expect("reload refused (RELOAD_INVALID_CODE)")
        assert json.loads(rt.redis.hget("jc:code", "generation") or b"0") == 1
    finally:
        end_tree(system, grace=60, known=seen)
        log.close()
