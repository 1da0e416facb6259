"""A tiny threaded JSON HTTP server for the fakes: routes by (method, regex), records requests,
checks a bearer token, and can be told to fail or delay the next calls."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[..., tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    at: float = 0.0


class JsonServer:
    """Subclasses add routes in `routes()`: [(method, pattern, handler(match, request))]."""

    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.requests: list[Request] = []
        self.delay = 0.0
        self._failures: list[tuple[int, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def routes(self) -> list[tuple[str, str, Route]]:
        return []

    def start(self) -> JsonServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> JsonServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, status: int, body: Any, times: int = 1) -> None:
        with self._lock:
            self._failures += [(status, body)] * times

    def calls(self, path_part: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if path_part in r.path]

    def dispatch(self, request: Request) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            failure = self._failures.pop(0) if self._failures else None
        if self.delay:
            time.sleep(self.delay)
        if failure:
            return failure
        auth = request.headers.get("authorization", "")
        if self.token and auth != f"Bearer {self.token}":
            return 401, {"error": "Unauthorized"}
        for method, pattern, route in self.routes():
            match = re.fullmatch(pattern, request.path)
            if method == request.method and match:
                return route(match, request)
        return 404, {"error": "Not Found"}


class _Handler(BaseHTTPRequestHandler):
    fake: JsonServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, a keep-alive client waits for the
    # delayed ACK (~40 ms) on every answer. Real APIs do not add that.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else None
        request = Request(method, url.path, dict(urllib.parse.parse_qsl(url.query)), body,
                          {k.lower(): v for k, v in self.headers.items()}, time.time())
        try:
            status, payload = self.fake.dispatch(request)
        except (BrokenPipeError, ConnectionResetError):
            return
        data = b"" if status == 204 else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
