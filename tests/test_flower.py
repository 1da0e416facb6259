"""A real Flower started exactly as `joelclaw up` starts it: always behind basic auth (configured
credentials, or a generated pair kept 0600 under JOELCLAW_HOME), so a web page the owner opens
can neither read it nor drive it; and what it shows of our tasks carries no event data, so no
secret."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from joelclaw.config import Settings
from joelclaw.credentials import flower_credentials, flower_file
from joelclaw.embedded import free_port
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.supervisor import commands
from tests.support import REPO, WorkerProcess, env_for, wait_for

pytestmark = pytest.mark.timeout(120)
SECRET = "opaque-flower-secret-3e9d"


class Flower:
    def __init__(self, settings: Settings, log_path: Path, extra: dict[str, str] | None = None):
        self.settings = settings
        [command] = [c for c in commands(settings, beat=False, gateway=False, web=False)
                     if c.name == "flower"]
        base = {k: v for k, v in env_for(settings).items() if not k.startswith("FLOWER_")}
        base.update(extra or {})
        self.url = f"http://127.0.0.1:{settings.flower_port}"
        self.log_path = log_path
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(command.argv, cwd=REPO, env=command.environment(base),
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait_ready(self) -> Flower:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"flower exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{self.url}/healthcheck", timeout=2).status_code == 200
            return False

        wait_for(ready, timeout=40, interval=0.2, message=f"flower (log {self.log_path})")
        return self

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.log.close()


@pytest.fixture
def flower(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., Flower]]:
    started: list[Flower] = []

    def start(extra: dict[str, str] | None = None, **overrides: object) -> Flower:
        chosen = settings.with_overrides(flower_port=free_port(), **overrides)
        process = Flower(chosen, tmp_path / f"flower{len(started)}.log", extra)
        started.append(process)
        return process.wait_ready()

    yield start
    for process in started:
        process.stop()


EVIL = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}


def test_a_web_page_can_neither_read_nor_drive_flower(flower: Callable[..., Flower]) -> None:
    # Given Flower as `up` starts it with nothing configured (loopback)
    running = flower()
    path = flower_file(running.settings)
    assert (path.stat().st_mode & 0o777) == 0o600
    user, password = flower_credentials(running.settings)
    assert path.read_text() == f"{user}:{password}" and len(password) >= 24
    cmdline = Path(f"/proc/{running.process.pid}/cmdline").read_bytes()
    assert password.encode() not in cmdline, "the password must not be visible in ps"
    api = f"{running.url}/api"
    # When an attacker's page reads it (a cross-site fetch carries no credentials)
    read = httpx.get(f"{api}/workers?refresh=1", headers=EVIL, timeout=10)
    # Then it is refused, and no CORS header would let the page see any answer
    assert read.status_code == 401
    assert "access-control-allow-origin" not in read.headers
    # And a cross-site form POST (pool resize) and a text/plain POST (apply any task) too
    grow = httpx.post(f"{api}/worker/pool/grow/worker@x?n=1", headers={
        **EVIL, "Content-Type": "application/x-www-form-urlencoded"}, content=b"n=1",
        timeout=10)
    apply = httpx.post(f"{api}/task/async-apply/joelclaw.fn.system-agent-dispatch", headers={
        **EVIL, "Content-Type": "text/plain"}, content=b'{"args": ["x"]}', timeout=10)
    for refused in (grow, apply):  # refused as cross-site (403) before auth (401) is asked
        assert refused.status_code in (401, 403), refused.text
        assert "access-control-allow-origin" not in refused.headers
    # Even when the browser holds the owner's basic-auth credentials for Flower's origin
    for headers in (EVIL, {"Origin": "https://evil.example"}):
        forged = httpx.post(f"{api}/worker/pool/grow/worker@x?n=1", headers=headers,
                            auth=(user, password), timeout=10)
        assert forged.status_code == 403, forged.text
        assert "access-control-allow-origin" not in forged.headers
    # While the owner, with the credentials from the file, uses it as usual
    owner = httpx.get(f"{api}/workers", auth=(user, password), timeout=10)
    assert owner.status_code == 200 and isinstance(owner.json(), dict)


def test_an_unsafe_environment_does_not_open_flower(flower: Callable[..., Flower]) -> None:
    running = flower({"FLOWER_UNAUTHENTICATED_API": "true"})  # e.g. left in the owner's shell
    answer = httpx.get(f"{running.url}/api/workers", headers=EVIL, timeout=10)
    assert answer.status_code == 401 and "access-control-allow-origin" not in answer.headers


def test_with_credentials_the_api_requires_them(flower: Callable[..., Flower]) -> None:
    running = flower(flower_user="owner", flower_password="s3cret-pw")
    assert httpx.get(f"{running.url}/api/workers", timeout=10).status_code == 401
    authed = httpx.get(f"{running.url}/api/workers", auth=("owner", "s3cret-pw"), timeout=10)
    assert authed.status_code == 200


def test_flower_shows_run_ids_never_event_data(
    flower: Callable[..., Flower], settings: Settings,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    worker_factory()
    running = flower()  # at start Flower asks the live workers to send task events
    auth = flower_credentials(running.settings)
    rt = Runtime(settings)

    def listening() -> bool:  # task events are pub/sub: only those sent once Flower listens
        rt.send(Event(name="test/steps"))
        return bool(httpx.get(f"{running.url}/api/tasks", auth=auth, timeout=10).json())

    wait_for(listening, timeout=40, interval=1.0, message="flower receiving task events")
    [sent] = rt.send(Event(name="test/steps", data={"password": SECRET, "token": SECRET,
                                                    "note": f"see {SECRET}"}))
    [run_id] = sent.runs
    wait_for(lambda: rt.runs.status(run_id) == "completed", timeout=30, message="the run")

    def shown() -> dict[str, dict[str, object]] | None:
        tasks = httpx.get(f"{running.url}/api/tasks", auth=auth, timeout=10).json()
        ours = {k: v for k, v in tasks.items() if run_id in str(v.get("args"))}
        return ours if ours and all(v.get("state") == "SUCCESS" for v in ours.values()) else None

    tasks = wait_for(shown, timeout=40, interval=0.5, message="flower seeing the task")
    for task_id, task in tasks.items():
        assert task["name"] == "joelclaw.fn.t-steps"
        info = httpx.get(f"{running.url}/api/task/info/{task_id}", auth=auth, timeout=10)
        for text in (str(task), info.text):
            assert SECRET not in text and run_id in text


def test_a_failed_run_is_in_flowers_failed_tasks(
    flower: Callable[..., Flower], settings: Settings,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    worker_factory()
    running = flower()
    auth = flower_credentials(running.settings)
    rt = Runtime(settings)

    def listening() -> bool:
        rt.send(Event(name="test/steps"))
        return bool(httpx.get(f"{running.url}/api/tasks", auth=auth, timeout=10).json())

    wait_for(listening, timeout=40, interval=1.0, message="flower receiving task events")
    [sent] = rt.send(Event(name="test/nonretriable"))
    [run_id] = sent.runs
    wait_for(lambda: rt.runs.status(run_id) == "failed", timeout=30, message="the run to fail")

    def failed() -> dict[str, dict[str, object]]:
        tasks = httpx.get(f"{running.url}/api/tasks", params={"state": "FAILURE"},
                          auth=auth, timeout=10).json()
        return {k: v for k, v in tasks.items() if run_id in str(v.get("args"))}

    shown = wait_for(failed, timeout=40, interval=0.5, message="flower listing the failure")
    [task] = shown.values()
    assert task["name"] == "joelclaw.fn.t-nonretriable"
    assert "RunFailed" in str(task["exception"])


def test_workers_that_start_after_flower_are_listed_by_its_api(
    flower: Callable[..., Flower], worker_factory: Callable[..., WorkerProcess],
) -> None:
    """On a busy machine Flower is up before the workers are (or they answer its one startup
    inspection too slowly): `GET /api/workers` must still come to list them."""
    running = flower()
    auth = flower_credentials(running.settings)
    assert httpx.get(f"{running.url}/api/workers", auth=auth, timeout=10).json() == {}
    worker_factory()  # node w0@<host>, booted after Flower's first inspection

    def listed() -> dict[str, object]:
        workers = httpx.get(f"{running.url}/api/workers", auth=auth, timeout=10).json()
        return {k: v for k, v in workers.items() if k.startswith("w0@")}

    [info] = wait_for(listed, timeout=60, interval=0.5, message="flower listing w0").values()
    assert "joelclaw" in str(info.get("active_queues"))
    # Its inspections before w0 booted were answered by no worker: no warning per method
    assert "Inspect method" not in running.log_path.read_text()
