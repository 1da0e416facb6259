"""Telemetry fixtures: a fake OTLP collector, the fake LLM, and settings pointing at them and
at the real Typesense and Redis."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from joelclaw.cli import cli
from joelclaw.config import Settings
from joelclaw.embedded import TypesenseServer
from joelclaw.runtime import Runtime
from tests.conftest import TEST_MODULES, make_settings
from tests.fakes.llm import FakeLLM
from tests.fakes.otlp import FakeCollector
from tests.support import WorkerProcess, env_for

MODULES = [*TEST_MODULES, "tests.telemetry.telfunctions"]
PRICES = {"test-model": {"input": 1000.0, "output": 2000.0}}  # USD per million tokens
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}  # the SDK's batch delay, in ms


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    fake = FakeCollector().start()
    yield fake
    fake.stop()


def tel_settings(tmp_path: Path, redis_url: str, ts: TypesenseServer, llm: FakeLLM,
                 **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "function_modules": MODULES, "typesense_url": ts.url,
        "typesense_api_key": ts.api_key, "llm_api_url": llm.base_url,
        "llm_api_key": "sk-test", "llm_model": "test-model", "llm_prices": PRICES,
        "otel_flush_seconds": 0.3,
    }
    values.update(overrides)
    return make_settings(tmp_path / "home", redis_url, **values)


@pytest.fixture
def start(tmp_path: Path, redis_url: str, typesense: TypesenseServer, llm: FakeLLM,
          worker_factory: Callable[..., WorkerProcess]) -> Callable[..., Runtime]:
    def go(**overrides: Any) -> Runtime:
        settings = tel_settings(tmp_path, redis_url, typesense, llm, **overrides)
        worker_factory(settings_override=settings, extra_env=FAST_EXPORT)
        return Runtime(settings)

    return go


def run_cli(settings: Settings, *args: str) -> tuple[int, dict[str, Any]]:
    import json

    env = {k: v for k, v in env_for(settings).items() if k.startswith("JOELCLAW_")}
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, json.loads(result.stdout)
