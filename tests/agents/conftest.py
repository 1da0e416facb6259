"""Agents fixtures: a functions worker and a gateway worker on one configuration, the fake
Telegram, and the agent command (tests/agents/fake_agent.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from joelclaw.runtime import Runtime
from tests.conftest import TEST_MODULES
from tests.fakes.telegram import FakeTelegram
from tests.gateway.conftest import gateway_settings
from tests.support import WorkerProcess

MODULES = [*TEST_MODULES, "tests.agents.agentfunctions"]
FAKE_AGENT = Path(__file__).with_name("fake_agent.py")


@pytest.fixture
def pids_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "pids"
    folder.mkdir()
    return folder


@pytest.fixture
def start_system(tmp_path: Path, redis_url: str, tg: FakeTelegram, pids_dir: Path,
                 worker_factory: Callable[..., WorkerProcess]) -> Callable[..., Runtime]:
    def start(*, gateway: bool = True, **overrides: Any) -> Runtime:
        values: dict[str, Any] = {
            "function_modules": MODULES,
            "agent_dispatch_command": f"{sys.executable} {FAKE_AGENT}",
        }
        values.update(overrides)
        settings = gateway_settings(tmp_path, redis_url, tg, **values)
        env = {"FAKE_AGENT_PIDS": str(pids_dir)}
        workers = [worker_factory(queues="joelclaw", concurrency=2, settings_override=settings,
                                  extra_env=env, wait=False)]
        if gateway:  # started side by side
            workers.append(worker_factory(queues="gateway", concurrency=1,
                                          settings_override=settings, wait=False))
        for worker in workers:
            worker.wait_ready()
        return Runtime(settings)

    return start
