"""Memory fixtures: a real Typesense (emptied per test), the fake OpenAI-compatible server for
chat and embeddings, and settings pointing at both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from joelclaw.config import Settings
from joelclaw.embedded import TypesenseServer
from joelclaw.integrations.embeddings import EmbeddingsClient
from joelclaw.integrations.typesense import SearchClient
from joelclaw.memory.plugin import memory_of
from joelclaw.memory.service import Memory
from joelclaw.memory.store import ObservationStore
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.llm import FakeLLM
from tests.memory.replies import MemoryLLM


def memory_settings(tmp_path: Path, redis_url: str, ts: TypesenseServer,
                    llm: FakeLLM | None = None, *, embeddings: bool = True,
                    **overrides: Any) -> Settings:
    values: dict[str, Any] = {"typesense_url": ts.url, "typesense_api_key": ts.api_key}
    if llm is not None:
        values.update(llm_api_url=llm.base_url, llm_api_key="sk-test", llm_model="test-model")
        if embeddings:
            values.update(embeddings_api_url=llm.base_url, embeddings_api_key="sk-test",
                          embeddings_model="fake-embed")
    values.update(overrides)
    return make_settings(tmp_path / "home", redis_url, **values)


@pytest.fixture
def search(typesense: TypesenseServer) -> Iterator[SearchClient]:
    client = SearchClient(typesense.url, typesense.api_key or "")
    yield client


@pytest.fixture
def keyword_store(search: SearchClient) -> ObservationStore:
    return ObservationStore(search, None)


@pytest.fixture
def vector_store(search: SearchClient, llm: FakeLLM) -> Iterator[ObservationStore]:
    embedder = EmbeddingsClient(llm.base_url, "sk-test", "fake-embed")
    yield ObservationStore(search, embedder)
    embedder.close()


@pytest.fixture
def memory_llm(llm: FakeLLM) -> MemoryLLM:
    replies = MemoryLLM()
    llm.reply = replies
    return replies


@pytest.fixture
def mem_settings(tmp_path: Path, redis_url: str, typesense: TypesenseServer,
                 llm: FakeLLM) -> Settings:
    return memory_settings(tmp_path, redis_url, typesense, llm)


@pytest.fixture
def mem(mem_settings: Settings) -> Memory:
    """The runtime's own Memory: the one its functions (`ctx.memory`) and hooks use."""
    return memory_of(Runtime(mem_settings))
