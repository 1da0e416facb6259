"""Small helpers shared by the blueprints: JSON error responses and bounded body reads.

A body is read with a size limit and a deadline. The limit: a declared length over it fails
before reading, a lying or chunked body fails once it is passed, so a large upload never sits in
memory. The deadline (`JOELCLAW_WEB_BODY_TIMEOUT_SECONDS`): a client that declares more than it
sends gets 408 when it passes, because a timer shuts the socket's read side, which ends the read
however slowly the client trickles. A malformed body (a bad chunk size, a connection closed
early) is the client's fault: 400, never the 500 gunicorn's parse errors would otherwise become.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from flask import Response, g, jsonify, request
from gunicorn.http.errors import ParseException

from joelclaw.errors import JoelclawError

CHUNK = 64 * 1024


class BodyError(JoelclawError):
    """The request body cannot be used; `status` and `code` say how to answer."""

    status, code = 400, "BAD_REQUEST"


class BodyTooLarge(BodyError):
    """The request body exceeds the route's limit."""

    status, code = 413, "PAYLOAD_TOO_LARGE"


class BodyTimeout(BodyError):
    """The client did not send its body within the deadline."""

    status, code = 408, "REQUEST_TIMEOUT"


class BodyMalformed(BodyError):
    """The body is not valid HTTP framing (bad chunk, shorter than its Content-Length)."""


def fail(status: int, message: str, code: str, **extra: Any) -> tuple[Response, int]:
    """The one error shape every route returns: `{"ok": false, "error": {message, code}}`."""
    return jsonify({"ok": False, "error": {"message": message, "code": code}, **extra}), status


def read_body(limit: int, timeout: float) -> bytes:
    """The raw body, at most `limit` bytes, received within `timeout` seconds, or a
    BodyError."""
    g.body_read = True
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the {limit} byte limit")
    data = _read(limit + 1, timeout)
    if len(data) > limit:
        raise BodyTooLarge(f"body exceeds the {limit} byte limit")
    return data


def drain(limit: int, timeout: float) -> None:
    """Read what a route left of the body, so a malformed one is answered here as JSON and not
    by the server after the response. Stops quietly after `limit` bytes."""
    if g.get("body_read") or _parsed_by_flask() or not _has_body():
        return
    g.body_read = True
    _read(limit, timeout)


def _parsed_by_flask() -> bool:
    """A form or `get_data()` already consumed the body (the dashboard's forms)."""
    return "form" in request.__dict__ or "_cached_data" in request.__dict__


def _has_body() -> bool:
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _read(limit: int, timeout: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    with _deadline(request.environ.get("gunicorn.socket"), timeout) as expired:
        try:
            while size < limit:
                chunk = request.stream.read(min(CHUNK, limit - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except ParseException as exc:
            raise BodyMalformed(f"malformed request body: {exc}") from None
        except OSError as exc:  # the client went away, or our deadline cut the read
            if expired.is_set():
                raise BodyTimeout(f"request body not received within {timeout:g}s") from None
            raise BodyMalformed(f"request body ended early: {exc or type(exc).__name__}"
                                ) from None
    declared = request.content_length
    if declared is not None and size < min(declared, limit):
        if expired.is_set():
            raise BodyTimeout(f"request body not received within {timeout:g}s")
        raise BodyMalformed(f"request body ended after {size} of its {declared} bytes")
    return b"".join(chunks)


@contextlib.contextmanager
def _deadline(sock: socket.socket | None, seconds: float) -> Iterator[threading.Event]:
    """Shut the socket's read side after `seconds`: a blocked read returns at once. The write
    side stays open for the answer. Without a server socket (the test client) nothing waits."""
    expired = threading.Event()
    if sock is None:
        yield expired
        return

    def cut() -> None:
        expired.set()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)

    timer = threading.Timer(seconds, cut)
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()
