"""The dashboard blueprint: access control before every request, security headers after it,
and errors shown as a page (or JSON under /api/) instead of a traceback."""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from joelclaw.errors import ConfigError, NotFound
from joelclaw.runtime import Runtime
from webhooks import access
from webhooks.app import error_response, is_api_path
from webhooks.dashboard.security import Guard, current_guard, same_origin

log = logging.getLogger("joelclaw.dashboard")
blueprint = Blueprint("dashboard", __name__, template_folder="templates",
                      static_folder="static", static_url_path="/dashboard-static")
API_PREFIX = "/api/dashboard"
PUBLIC_ENDPOINTS = frozenset({"dashboard.static", "dashboard.login", "dashboard.login_post"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The pages in the menu: (endpoint, label, key after `g` to go there). static/keys.js reads the
# keys from the menu's links, and the shortcuts page lists them: one list for both.
NAV = (("needs", "Needs me", "n"), ("overview", "Overview", "o"), ("functions", "Functions", "f"),
       ("runs", "Runs", "r"), ("events", "Events", "e"), ("gateway", "Gateway", "g"),
       ("memory", "Memory", "m"))
SHORTCUTS = (("/", "search or filter this page"), ("j / k", "next / previous item in a list"),
             ("o or Enter", "open the selected item"), ("Esc", "leave a field"),
             ("?", "this list of shortcuts"))


def rt() -> Runtime:
    """The runtime `create_app` put on the app (the dashboard never builds its own)."""
    runtime: Runtime = current_app.extensions["joelclaw"]
    return runtime


def guard() -> Guard:
    return current_guard()


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX


def secure_request() -> bool:
    return request.is_secure or request.headers.get("X-Forwarded-Proto", "") == "https"


@blueprint.before_request
def _check_access() -> Any:
    """`webhooks.access` decides who comes in; then every POST but a script's (bearer) must
    come from this dashboard's own pages (Origin / Sec-Fetch-Site, and the CSRF token)."""
    if request.endpoint == "dashboard.static":
        return None
    gate = guard()
    cookie_session = gate.read(request)
    verdict = access.check(request, logged_in=bool(cookie_session and
                                                   cookie_session.authenticated))
    g.dash_open = verdict == "open"
    g.dash_bearer = verdict == "bearer"
    g.dash_session = cookie_session or gate.new(authenticated=False)
    if isinstance(verdict, access.Refused):
        refused = _refused(verdict)
        if refused is not None:
            return refused
    if request.method == "POST" and not g.dash_bearer:
        if not same_origin(request):
            return _refuse(403, "cross-site request refused", "CROSS_SITE")
        if not gate.csrf_ok(cookie_session, request.form.get("csrf")):
            return _refuse(403, "the form expired or did not come from this dashboard: reload "
                           "the page and try again", "CSRF_FAILED")
    return None


def _refused(verdict: access.Refused) -> Any:
    """The login page and its POST stay public (the login checks the token itself); a page
    asked for without a login goes to it; anything else is refused as `access` says."""
    if request.endpoint in PUBLIC_ENDPOINTS and verdict.code != "RATE_LIMITED":
        return None
    if verdict.code == "UNAUTHORIZED" and not wants_json() and request.method == "GET" \
            and access.bearer(request) is None:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    return _refuse(verdict.status, verdict.message, verdict.code)


def _refuse(status: int, message: str, code: str) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify({"ok": False, "error": {"message": message, "code": code}}), status
    return render_template("error.html", page="error", status=status, message=message,
                           code=code), status


@blueprint.after_request
def _headers(response: Response) -> Response:
    session = g.get("dash_session")
    if session is not None and session.fresh and not g.get("dash_bearer"):
        guard().store(response, session, secure=secure_request())
    return secured(response)


def secured(response: Response) -> Response:
    """The headers every dashboard answer carries (the CSP allows no inline script)."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.app_template_global()
def csrf_token() -> str:
    session = g.get("dash_session")
    return guard().csrf_token(session) if session is not None else ""


@blueprint.app_template_global()
def logged_in() -> bool:
    session = g.get("dash_session")
    return bool(session is not None and session.authenticated and not g.get("dash_open"))


@blueprint.errorhandler(NotFound)
def _not_found(exc: NotFound) -> Any:
    return _refuse(404, str(exc), exc.code)


@blueprint.app_errorhandler(404)
@blueprint.app_errorhandler(405)
def _no_such_page(exc: HTTPException) -> Any:
    """An unknown URL: JSON for the API, webhooks and probes; a page for a person otherwise."""
    if is_api_path(request.path):
        return error_response(exc)
    code = (exc.name or "error").upper().replace(" ", "_")
    message = ("there is no page at this address" if exc.code == 404
               else exc.description or exc.name)
    page = render_template("error.html", page="error", status=exc.code, message=message,
                           code=code)
    response = secured(current_app.make_response((page, exc.code or 404)))
    if isinstance(exc, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    code = (exc.name or "error").upper().replace(" ", "_")
    return _refuse(exc.code or 500, exc.description or exc.name, code)


@blueprint.errorhandler(redis.RedisError)
def _redis_down(exc: redis.RedisError) -> Any:
    log.warning("dashboard: redis unavailable: %s", exc)
    return _refuse(503, f"the event store (Redis) is unavailable, retry later: {exc}",
                   "SERVICE_UNAVAILABLE")


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception) -> Any:
    """The traceback goes to the log; the page says only that it failed."""
    log.error("dashboard: unhandled error on %s", request.path, exc_info=exc)
    return _refuse(500, "internal error: the web log has the details", "INTERNAL_ERROR")


@blueprint.errorhandler(ConfigError)
def _config_error(exc: ConfigError) -> Any:
    return _refuse(503, str(exc), exc.code)


@blueprint.app_template_global()
def nav() -> tuple[tuple[str, str, str], ...]:
    return NAV


@blueprint.app_template_global()
def api_link() -> str:
    """The JSON twin of the page being shown."""
    path = "/overview" if request.path == "/" else request.path
    query = request.query_string.decode("latin-1")
    return API_PREFIX + path + (f"?{query}" if query else "")


@blueprint.app_template_global()
def live_link() -> str:
    """This page's live fragment: the same query plus `fragment=1`."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    args["fragment"] = ["1"]
    return url_for(request.endpoint or "dashboard.overview", **(request.view_args or {}),
                   **args)
