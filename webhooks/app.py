"""What every blueprint shares: the runtime of the app serving the request, and the one JSON
error shape (`{"ok": false, "error": {"message", "code"}}`).

Its own module so the blueprints never import the package that registers them (the factory in
`webhooks/__init__.py` imports them; they import this).
"""

from __future__ import annotations

from flask import Response, current_app, json
from werkzeug.exceptions import HTTPException

from joelclaw.runtime import Runtime

EXTENSION = "joelclaw"


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
