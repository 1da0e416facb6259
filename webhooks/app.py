"""What every blueprint shares: the runtime of the app serving the request, the one JSON error
shape (`{"ok": false, "error": {"message", "code"}}`), and the JSON encoder that redacts every
answer (`joelclaw.redaction`: a route cannot forget to).

Its own module so the blueprints never import the package that registers them (the factory in
`webhooks/__init__.py` imports them; they import this).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, json
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response as WerkzeugResponse

from joelclaw.redaction import configured_secrets, redact
from joelclaw.runtime import Runtime

EXTENSION = "joelclaw"
API_PATHS = ("api/", "webhooks", "health", "metrics")  # answered as JSON; the rest is pages


class AnyId(BaseConverter):
    """An id as the API accepts it, `/` and all (`upload-a/b.png`): matched to the end of the
    path, and written into URLs with every reserved character escaped (so `a/../b` stays one
    id instead of a path a browser would shorten). Rules using it turn slash merging off."""

    regex = r"[\s\S]+"  # any character, newlines too
    part_isolating = False

    def to_url(self, value: str) -> str:
        return quote(str(value), safe="")


def is_api_path(path: str) -> bool:
    """The API, webhooks, /health and /metrics answer JSON; every other path is a page."""
    return path.lstrip("/").startswith(API_PATHS)


def runtime() -> Runtime:
    """The runtime of the app serving the current request."""
    rt: Runtime = current_app.extensions[EXTENSION]
    return rt


def error_response(exc: HTTPException) -> WerkzeugResponse:
    """The exception's own response (status, headers such as Allow) with a JSON body."""
    response = exc.get_response()
    code = (exc.name or "error").upper().replace(" ", "_")
    body = {"ok": False, "error": {"message": exc.description, "code": code}}
    response.set_data(json.dumps(body))
    response.content_type = "application/json"
    return response


class RedactingJSON(DefaultJSONProvider):
    """Flask's JSON, with secrets redacted by key name, value shape and configured value:
    stored events keep their data for functions, while no answer of the app shows it."""

    sort_keys = False

    def __init__(self, app: Flask, secrets: tuple[str, ...]):
        super().__init__(app)
        self.secrets = secrets

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return super().dumps(redact(obj, self.secrets), **kwargs)


def use_redacting_json(app: Flask, rt: Runtime) -> None:
    app.json = RedactingJSON(app, configured_secrets(rt.settings))
