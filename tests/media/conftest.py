"""Media fixtures: the fake Telegram, the fake OpenAI-compatible chat server (the agent turn and
the image model) and the fake transcription server, with a functions worker and a gateway
worker sharing one configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from joelclaw.runtime import Runtime
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.transcription import FakeTranscription
from tests.gateway.conftest import gateway_settings, with_llm
from tests.support import WorkerProcess

IMAGE_ANSWER = "A cat asleep on a laptop keyboard."


def reply(messages: list[dict[str, Any]]) -> str:
    """Echo the agent's prompt; describe an image (content parts) in one fixed sentence."""
    content = messages[-1]["content"]
    if isinstance(content, list):
        return IMAGE_ANSWER
    return "echo: " + content


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    fake = FakeLLM(reply=reply)  # type: ignore[arg-type]
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def stt() -> Iterator[FakeTranscription]:
    with FakeTranscription() as fake:
        yield fake


@pytest.fixture
def start_system(tmp_path: Path, redis_url: str, tg: FakeTelegram, llm: FakeLLM,
                 stt: FakeTranscription, worker_factory: Callable[..., WorkerProcess]
                 ) -> Callable[..., Runtime]:
    def start(*, gateway: bool = True, **overrides: Any) -> Runtime:
        values: dict[str, Any] = {**with_llm(llm), "transcription_api_url": stt.base_url,
                                  "transcription_api_key": stt.api_key}
        values.update(overrides)
        settings = gateway_settings(tmp_path, redis_url, tg, **values)
        workers = [worker_factory(queues="joelclaw", concurrency=2, settings_override=settings,
                                  wait=False)]
        if gateway:  # started side by side
            workers.append(worker_factory(queues="gateway", concurrency=1,
                                          settings_override=settings, wait=False))
        for worker in workers:
            worker.wait_ready()
        return Runtime(settings)

    return start
