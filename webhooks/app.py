"""What every blueprint shares: the runtime of the app serving the request, and the one JSON
error shape (`{"ok": false, "error": {"message", "code"}}`), installed on the app by the factory.

Its own module so the blueprints never import the package that registers them (the factory in
`webhooks/__init__.py` imports them; they import this).
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, current_app, json
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from joelclaw.errors import ConfigError
from joelclaw.runtime import Runtime

EXTENSION = "joelclaw"
log = logging.getLogger("joelclaw.web")


def runtime() -> Runtime:
    """The runtime of the app serving the current request."""
    rt: Runtime = current_app.extensions[EXTENSION]
    return rt


def error_response(exc: HTTPException) -> Response:
    """The exception's own response (status, headers such as Allow) with a JSON body."""
    response = exc.get_response()
    code = (exc.name or "error").upper().replace(" ", "_")
    body = {"ok": False, "error": {"message": exc.description, "code": code}}
    response.set_data(json.dumps(body))
    response.content_type = "application/json"
    return response


def install_error_handlers(app: Flask) -> None:
    """Every error the app answers is JSON, never an HTML page: the callers are webhook senders,
    scripts and the CLI."""
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(redis.RedisError, _store_unavailable)
    app.register_error_handler(ConfigError, _store_unavailable)
    app.register_error_handler(Exception, _unexpected_error)


def _store_unavailable(exc: Exception) -> Response:
    """Redis down or not configured is the server's state, not the caller's fault: 503, so
    webhook senders and scripts retry instead of giving up as they would on a 500."""
    log.warning("redis unavailable: %s", exc)
    return error_response(ServiceUnavailable(f"event store unavailable, retry later: {exc}"))


def _unexpected_error(exc: Exception) -> Response:
    """Log the traceback; the caller only learns that it failed, not how."""
    log.error("unhandled error", exc_info=exc)
    return error_response(InternalServerError("internal server error"))
