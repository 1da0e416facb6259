"""`GET /health`: the library's health report (`joelclaw.health`), 200 when every core
component is ok and 503 naming the failing ones otherwise. No token: load balancers and
container healthchecks call it."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from joelclaw import health as report
from webhooks.app import runtime

blueprint = Blueprint("health", __name__)


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    body = report.check(runtime())
    return jsonify(body), 200 if body["ok"] else 503
