"""A real Flower started exactly as `joelclaw up` starts it: on loopback without credentials
its HTTP API answers (Flower 2.2 answers 401 unless told otherwise), with credentials it requires
them; and what it shows of our tasks carries no event data, so no secret."""

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
from joelclaw.embedded import free_port
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.supervisor import commands
from tests.support import REPO, WorkerProcess, env_for, wait_for

pytestmark = pytest.mark.timeout(120)
SECRET = "opaque-flower-secret-3e9d"


class Flower:
    def __init__(self, settings: Settings, log_path: Path):
        [command] = [c for c in commands(settings, beat=False, gateway=False, web=False)
                     if c.name == "flower"]
        base = {k: v for k, v in env_for(settings).items() if not k.startswith("FLOWER_")}
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

    def start(**overrides: object) -> Flower:
        chosen = settings.with_overrides(flower_port=free_port(), **overrides)
        process = Flower(chosen, tmp_path / f"flower{len(started)}.log")
        started.append(process)
        return process.wait_ready()

    yield start
    for process in started:
        process.stop()


def test_on_loopback_without_credentials_the_api_answers(
    flower: Callable[..., Flower],
) -> None:
    running = flower()
    response = httpx.get(f"{running.url}/api/workers", timeout=10)
    assert response.status_code == 200, response.text
    assert isinstance(response.json(), dict)


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
    rt = Runtime(settings)

    def listening() -> bool:  # task events are pub/sub: only those sent once Flower listens
        rt.send(Event(name="test/steps"))
        return bool(httpx.get(f"{running.url}/api/tasks", timeout=10).json())

    wait_for(listening, timeout=40, interval=1.0, message="flower receiving task events")
    [sent] = rt.send(Event(name="test/steps", data={"password": SECRET, "token": SECRET,
                                                    "note": f"see {SECRET}"}))
    [run_id] = sent.runs
    wait_for(lambda: rt.runs.status(run_id) == "completed", timeout=30, message="the run")

    def shown() -> dict[str, dict[str, object]] | None:
        tasks = httpx.get(f"{running.url}/api/tasks", timeout=10).json()
        ours = {k: v for k, v in tasks.items() if run_id in str(v.get("args"))}
        return ours if ours and all(v.get("state") == "SUCCESS" for v in ours.values()) else None

    tasks = wait_for(shown, timeout=40, interval=0.5, message="flower seeing the task")
    for task_id, task in tasks.items():
        assert task["name"] == "joelclaw.fn.t-steps"
        info = httpx.get(f"{running.url}/api/task/info/{task_id}", timeout=10)
        for text in (str(task), info.text):
            assert SECRET not in text and run_id in text


def test_a_failed_run_is_in_flowers_failed_tasks(
    flower: Callable[..., Flower], settings: Settings,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    worker_factory()
    running = flower()
    rt = Runtime(settings)

    def listening() -> bool:
        rt.send(Event(name="test/steps"))
        return bool(httpx.get(f"{running.url}/api/tasks", timeout=10).json())

    wait_for(listening, timeout=40, interval=1.0, message="flower receiving task events")
    [sent] = rt.send(Event(name="test/nonretriable"))
    [run_id] = sent.runs
    wait_for(lambda: rt.runs.status(run_id) == "failed", timeout=30, message="the run to fail")

    def failed() -> dict[str, dict[str, object]]:
        tasks = httpx.get(f"{running.url}/api/tasks", params={"state": "FAILURE"},
                          timeout=10).json()
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
    assert httpx.get(f"{running.url}/api/workers", timeout=10).json() == {}
    worker_factory()  # node w0@<host>, booted after Flower's first inspection

    def listed() -> dict[str, object]:
        workers = httpx.get(f"{running.url}/api/workers", timeout=10).json()
        return {k: v for k, v in workers.items() if k.startswith("w0@")}

    [info] = wait_for(listed, timeout=60, interval=0.5, message="flower listing w0").values()
    assert "joelclaw" in str(info.get("active_queues"))
