"""FakeTranscription: an OpenAI-compatible speech-to-text server on 127.0.0.1.

`POST /v1/audio/transcriptions` takes multipart/form-data with a `file` part (filename and
content type) and form fields `model` (required), `response_format` (json | text | verbose_json),
`language`, `prompt`; it answers `{"text": ...}` as OpenAI does, 400 with an OpenAI error object
for a missing file or model, 401 without the bearer key. `transcripts` maps audio bytes to the
text (default: "transcript of <n> bytes").
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Upload:
    """One transcription request as the server parsed it."""

    fields: dict[str, str]
    filename: str | None
    content_type: str | None
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    request_content_type: str = ""


class FakeTranscription:
    def __init__(self, api_key: str = "sk-audio") -> None:
        self.api_key = api_key
        self.transcripts: dict[bytes, str] = {}
        self.uploads: list[Upload] = []
        self._failures: list[tuple[int, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FakeTranscription:
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

    def __enter__(self) -> FakeTranscription:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def fail_next(self, status: int = 500, times: int = 1,
                  message: str = "The server had an error while processing your request.") -> None:
        """Answer the next `times` requests with this status and an OpenAI error object."""
        with self._lock:
            self._failures += [(status, _error(message, "server_error"))] * times

    def recover(self) -> None:
        """Drop the failures still programmed."""
        with self._lock:
            self._failures.clear()

    def calls(self) -> list[Upload]:
        with self._lock:
            return list(self.uploads)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if path != "/v1/audio/transcriptions":
            return 404, _error("Not Found", "invalid_request_error")
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("Incorrect API key provided", "invalid_request_error")
        ctype = headers.get("content-type", "")
        if not ctype.lower().startswith("multipart/form-data"):
            return 400, _error("Content-Type must be multipart/form-data",
                               "invalid_request_error")
        fields, files = _multipart(ctype, body)
        upload = files.get("file")
        with self._lock:
            self.uploads.append(Upload(fields, upload[0] if upload else None,
                                       upload[2] if upload else None,
                                       upload[1] if upload else b"", headers, ctype))
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return failure
        if upload is None:
            return 400, _error("you must provide a file", "invalid_request_error", "file")
        if not fields.get("model"):
            return 400, _error("you must provide a model parameter", "invalid_request_error",
                               "model")
        text = self.transcripts.get(upload[1], f"transcript of {len(upload[1])} bytes")
        if fields.get("response_format") == "text":
            return 200, text
        answer: dict[str, Any] = {"text": text}
        if fields.get("response_format") == "verbose_json":
            answer.update(language="english", duration=1.0, segments=[])
        return 200, answer


def _error(message: str, kind: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": None}}


def _multipart(ctype: str, body: bytes) -> tuple[dict[str, str], dict[str, tuple]]:
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, tuple] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, payload, part.get_content_type())
        else:
            fields[name] = payload.decode("utf-8")
    return fields, files


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTranscription
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload = self.fake.handle(self.path.split("?")[0], headers, body)
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
