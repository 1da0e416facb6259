"""The app's error handling: every answer is JSON, never an HTML page, because the callers are
webhook senders, scripts and the CLI. Installed once by the factory."""

from __future__ import annotations

import logging
from http import HTTPStatus

import redis
from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, InternalServerError, ServiceUnavailable
from werkzeug.wrappers import Response as WerkzeugResponse

from joelclaw.errors import ConfigError
from joelclaw.events.limits import MAX_EVENT_BYTES
from webhooks.app import error_response, is_api_path, runtime
from webhooks.http import BodyError, drain, fail

log = logging.getLogger("joelclaw.web")
DASHBOARD = "dashboard"  # the blueprint whose answers are HTML for a browser


def install(app: Flask) -> None:
    """Every error handler, and a last look at each answer. That includes Werkzeug's routing
    redirects (`//api/runs` -> 308 `/api/runs`),
    which Flask hands out without calling any error handler."""
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(BodyError, _body_error)
    app.register_error_handler(redis.RedisError, _store_unavailable)
    app.register_error_handler(ConfigError, _store_unavailable)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_finish)


def _finish(response: Response) -> Response:
    """Read a body the route left unread (a malformed one is answered now, as JSON), and give
    any HTML answer (a routing redirect) the JSON shape."""
    try:
        drain(MAX_EVENT_BYTES, runtime().settings.web.body_timeout_seconds)
    except BodyError as exc:
        return _body_error(exc)
    if response.mimetype != "text/html" or response.status_code < 300:
        return response
    if request.blueprint == DASHBOARD or not is_api_path(request.path):
        return response  # pages for people: their own HTML errors and redirects
    status = HTTPStatus(response.status_code)
    location = response.headers.get("Location")
    message = f"see {location}" if location else status.description or status.phrase
    body = {"ok": False, "error": {"message": message,
                                   "code": status.phrase.upper().replace(" ", "_")}}
    if location:
        body["location"] = location
    response.set_data(json.dumps(body))
    response.content_type = "application/json"
    return response


def _body_error(exc: BodyError) -> Response:
    response, status = fail(exc.status, str(exc), exc.code)
    response.status_code = status
    return response


def _store_unavailable(exc: Exception) -> WerkzeugResponse:
    """Redis down or not configured is the server's state, not the caller's fault: 503, so
    webhook senders and scripts retry instead of giving up as they would on a 500."""
    log.warning("redis unavailable: %s", exc)
    return error_response(ServiceUnavailable(f"event store unavailable, retry later: {exc}"))


def _unexpected_error(exc: Exception) -> WerkzeugResponse:
    """Log the traceback; the caller only learns that it failed, not how."""
    log.error("unhandled error", exc_info=exc)
    return error_response(InternalServerError("internal server error"))
