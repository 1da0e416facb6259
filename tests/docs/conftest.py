"""Docs fixtures: a docs folder, a real Typesense (emptied per test), settings pointing at both,
a real worker, and a static HTTP server standing in for a site a URL document comes from."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from joelclaw.config import Settings
from joelclaw.docs.index import DocsIndex
from joelclaw.embedded import TypesenseServer
from joelclaw.integrations.typesense import SearchClient
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import WorkerProcess


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


def docs_settings(tmp_path: Path, redis_url: str, ts: TypesenseServer | None,
                  **overrides: Any) -> Settings:
    values: dict[str, Any] = {"docs_dir": tmp_path / "docs", "docs_chunk_chars": 300,
                              "docs_chunk_overlap": 40}
    if ts is not None:
        values.update(typesense_url=ts.url, typesense_api_key=ts.api_key)
    values.update(overrides)
    return make_settings(tmp_path / "home", redis_url, **values)


@pytest.fixture
def search(typesense: TypesenseServer) -> SearchClient:
    return SearchClient(typesense.url, typesense.api_key or "")


@pytest.fixture
def index(search: SearchClient) -> DocsIndex:
    return DocsIndex(search, None)


@pytest.fixture
def start(worker_factory: Callable[..., WorkerProcess], tmp_path: Path, redis_url: str,
          typesense: TypesenseServer, docs_dir: Path) -> Callable[..., Runtime]:
    """A worker and a runtime on settings with a docs folder and Typesense (plus overrides)."""
    def go(**overrides: Any) -> Runtime:
        settings = docs_settings(tmp_path, redis_url, typesense, **overrides)
        worker_factory(settings_override=settings)
        return Runtime(settings)

    return go


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves): a plain static HTTP server on loopback."""
    folder = tmp_path / "site"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(folder)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}", folder
    server.shutdown()
    server.server_close()
    thread.join(5)
