"""`GET /health`: the library's health report (`joelclaw.health`), 200 when every core
component is ok and 503 naming the failing ones otherwise. Behind the token like every view
(`webhooks.access`): a load balancer sends it as a bearer header, and the containers'
healthcheck (`joelclaw.probe web`) counts any JSON answer as the web process being alive."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from joelclaw import health as report
from webhooks import access
from webhooks.app import runtime
from webhooks.dashboard.security import logged_in

blueprint = Blueprint("health", __name__)


@blueprint.before_request
def _require_token() -> tuple[Response, int] | None:
    return access.require(logged_in=logged_in(request))


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    body = report.check(runtime())
    return jsonify(body), 200 if body["ok"] else 503
