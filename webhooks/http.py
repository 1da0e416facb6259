"""Small helpers shared by the blueprints: JSON error responses and bounded body reads."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request


class BodyTooLarge(Exception):
    """The request body exceeds the route's limit."""


def fail(status: int, message: str, code: str, **extra: Any) -> tuple[Response, int]:
    """The one error shape every route returns: `{"ok": false, "error": {message, code}}`."""
    return jsonify({"ok": False, "error": {"message": message, "code": code}, **extra}), status


def read_body(limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes whether or not Content-Length says so:
    a declared length over the limit fails before reading, a lying or chunked body fails once
    the limit is passed, so a large upload never sits in memory."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"body of {declared} bytes exceeds the {limit} byte limit")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(f"body exceeds the {limit} byte limit")
    return data
