"""The web process: one Flask application factory for webhooks, the JSON API and `/health`.

Nothing is built at import time: gunicorn calls `create_app()` (`'webhooks:create_app()'`) and
tests build their own app with explicit settings. Blueprints reach the runtime via `runtime()`.
Every error is JSON (`{"ok": false, "error": {"message", "code"}}`), never an HTML page, because
the callers are webhook senders, scripts and the CLI.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, json
from werkzeug.exceptions import HTTPException, InternalServerError

from joelclaw.config import Settings, load_settings
from joelclaw.runtime import Runtime

EXTENSION = "joelclaw"
log = logging.getLogger("joelclaw.web")


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; settings come from the environment unless given."""
    from webhooks.health import blueprint as health

    app = Flask(__name__)
    app.extensions[EXTENSION] = Runtime(settings or load_settings())
    app.register_blueprint(health)
    app.register_error_handler(HTTPException, _http_error)
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


def _unexpected_error(exc: Exception) -> Response:
    """Log the traceback; the caller only learns that it failed, not how."""
    log.error("unhandled error", exc_info=exc)
    return error_response(InternalServerError("internal server error"))
