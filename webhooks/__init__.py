"""The web process: one Flask application factory for webhooks, the JSON API and `/health`.

Nothing is built at import time: gunicorn calls `create_app()` (`'webhooks:create_app()'`) and
tests build their own app with explicit settings. Blueprints reach the runtime via `runtime()`.
Every error is JSON (`{"ok": false, "error": {"message", "code"}}`), never an HTML page, because
the callers are webhook senders, scripts and the CLI.
"""

from __future__ import annotations

import logging

import redis
from flask import Flask, Response, current_app, json
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable

from joelclaw.config import Settings, load_settings
from joelclaw.errors import ConfigError
from joelclaw.runtime import Runtime

EXTENSION = "joelclaw"
log = logging.getLogger("joelclaw.web")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; settings come from the environment unless given."""
    from webhooks.api import blueprint as api
    from webhooks.dashboard import blueprint as dashboard
    from webhooks.health import blueprint as health
    from webhooks.metrics import blueprint as metrics
    from webhooks.routes import blueprint as hooks

    app = Flask(__name__, static_folder=None)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = Runtime(settings or load_settings())
    for blueprint in (health, hooks, api, metrics, dashboard):
        app.register_blueprint(blueprint)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(redis.RedisError, _store_unavailable)
    app.register_error_handler(ConfigError, _store_unavailable)
    app.register_error_handler(Exception, _unexpected_error)
    return app


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


def _http_error(exc: HTTPException) -> Response:
    return error_response(exc)


def _store_unavailable(exc: Exception) -> Response:
    """Redis down or not configured is the server's state, not the caller's fault: 503, so
    webhook senders and scripts retry instead of giving up as they would on a 500."""
    log.warning("redis unavailable: %s", exc)
    return error_response(ServiceUnavailable(f"event store unavailable, retry later: {exc}"))


def _unexpected_error(exc: Exception) -> Response:
    """Log the traceback; the caller only learns that it failed, not how."""
    log.error("unhandled error", exc_info=exc)
    return error_response(InternalServerError("internal server error"))
