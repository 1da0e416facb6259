"""The front door over the wire, through a real gunicorn with the worker settings `joelclaw up`
uses: slow clients cannot exhaust it, malformed HTTP framing is a 400 JSON answer (never a 500),
and every answer the app gives is JSON, routing redirects included."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joelclaw import keys
from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.support import WorkerProcess, wait_for
from tests.webhooks.gunicorn_support import Gunicorn
from tests.webhooks.webhook_support import bearer, configured, fixture

pytestmark = pytest.mark.timeout(180)
SLOW_CLIENTS = 50
BODY_TIMEOUT = 6.0


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return configured(settings, web_body_timeout_seconds=BODY_TIMEOUT)


@pytest.fixture
def server(web_settings: Settings, tmp_path: Path) -> Iterator[Gunicorn]:
    web = Gunicorn(web_settings, tmp_path / "gunicorn.log")
    try:
        yield web.wait_ready()
    finally:
        web.stop()


def raw_request(port: int, head: str, body: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return sock


def accepted(server: Gunicorn) -> int:
    """Connections gunicorn's processes have accepted on its port (each is being read)."""
    main = psutil.Process(server.process.pid)
    count = 0
    for process in [main, *main.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            count += sum(1 for c in process.net_connections(kind="tcp")
                         if c.laddr and c.laddr.port == server.port
                         and c.status == psutil.CONN_ESTABLISHED)
    return count


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer, read until the connection closes or the body is complete."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip()
               for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    sock.close()
    return int(lines[0].split()[1]), headers, body


def test_fifty_slow_clients_leave_health_and_a_signed_webhook_answering(
    server: Gunicorn, web_settings: Settings,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    worker_factory(settings_override=web_settings)
    Runtime(web_settings).redis.set(keys.BEAT_TICK, time.time() + 3600)
    wait_for(lambda: httpx.get(f"{server.url}/health", headers=bearer(),
                               timeout=5).status_code == 200,
             timeout=30, message="healthy before the slow clients")
    head = ("POST /webhooks/github HTTP/1.1\nHost: x\nContent-Type: application/json\n"
            "Content-Length: 100000\n")
    slow = [raw_request(server.port, head, b'{"zen": "') for _ in range(SLOW_CLIENTS)]
    wait_for(lambda: accepted(server) >= SLOW_CLIENTS, timeout=30,
             message="every slow client accepted by a worker")

    health = httpx.get(f"{server.url}/health", headers=bearer(), timeout=5)
    raw, headers = fixture("github", "push")
    webhook = httpx.post(f"{server.url}/webhooks/github", content=raw, headers=headers,
                         timeout=5)
    unanswered = [s for s in slow if s not in select.select(slow, [], [], 0)[0]]

    assert health.status_code == 200 and health.json()["ok"] is True
    assert webhook.status_code == 200 and webhook.json()["events"] == 1
    # answered while the 50 were still being waited on: none of them has its 408 yet
    assert len(unanswered) == SLOW_CLIENTS
    answers = [read_answer(sock) for sock in slow]
    assert {status for status, _, _ in answers} == {408}
    for _, headers_, body in answers:
        assert headers_["content-type"] == "application/json"
        assert json.loads(body)["error"]["code"] == "REQUEST_TIMEOUT"


@pytest.mark.parametrize("path", ["/webhooks/github", "/api/events", "/api/runs/x/cancel",
                                  "/health"])
def test_a_malformed_chunked_body_is_a_400_json_answer(server: Gunicorn, path: str) -> None:
    method = "GET" if path == "/health" else "POST"
    head = (f"{method} {path} HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n"
            f"Authorization: {bearer()['Authorization']}\nContent-Type: application/json\n")
    status, headers, body = read_answer(raw_request(server.port, head, b"zz\r\n{}\r\n0\r\n\r\n"))
    assert status == 400, body
    assert headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert answer["ok"] is False and "malformed request body" in answer["error"]["message"]
    assert "Internal Server Error" not in server.output()


def test_a_body_shorter_than_its_length_is_a_400_json_answer(server: Gunicorn) -> None:
    head = ("POST /webhooks/github HTTP/1.1\nHost: x\nContent-Type: application/json\n"
            "Content-Length: 50\n")
    sock = raw_request(server.port, head, b'{"a": 1}')
    sock.shutdown(socket.SHUT_WR)  # the client gives up halfway
    status, headers, body = read_answer(sock)
    assert status == 400 and headers["content-type"] == "application/json"
    assert "ended after 8 of its 50 bytes" in json.loads(body)["error"]["message"]


@pytest.mark.parametrize(("method", "path", "location"), [
    # (an event id may hold `/`: /api/events//x is the event "/x", not a slash to merge)
    ("GET", "/api//runs", "/api/runs"), ("GET", "/api//functions", "/api/functions"),
    ("POST", "/webhooks//github", "/webhooks/github"),
])
def test_slash_merging_redirects_are_json(server: Gunicorn, method: str, path: str,
                                          location: str) -> None:
    response = httpx.request(method, f"{server.url}{path}", headers=bearer(), timeout=10)
    assert response.status_code == 308
    assert response.headers["content-type"] == "application/json"
    assert response.headers["location"].endswith(location)
    body = response.json()
    assert body["ok"] is False and body["error"]["code"] == "PERMANENT_REDIRECT"
    assert body["location"].endswith(location)


CHUNK_PARTS = st.sampled_from([b"zz", b"5", b"-1", b"ffffffffffffffffff", b"0", b"3;x=y", b"",
                               b"\r\n", b"abc", b"{}", b"\n", b"0\r\n\r\n", b"4\r\n{}{}"])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(parts=st.lists(CHUNK_PARTS, max_size=8), path=st.sampled_from(
    ["/webhooks/github", "/api/events", "/webhooks/nope", "/health"]))
def test_random_chunked_framing_never_gets_a_500(server: Gunicorn, parts: list[bytes],
                                                 path: str) -> None:
    head = (f"POST {path} HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nConnection: close\n"
            f"Authorization: {bearer()['Authorization']}\n")
    sock = raw_request(server.port, head, b"\r\n".join(parts))
    sock.shutdown(socket.SHUT_WR)
    status, headers, body = read_answer(sock)
    assert status in {200, 400, 401, 404, 405, 413}, body
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["ok"] is (status == 200)
