"""`/api/openapi.json` is accurate: every route is documented and every documented route
exists, and Schemathesis, fuzzing each operation from the document with a valid token, finds no
500 and no response outside what the document declares."""

from __future__ import annotations

import re
import time

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from joelclaw import keys
from joelclaw.config import Settings
from joelclaw.events.model import Event
from tests.webhooks.webhook_support import bearer, configured
from webhooks import create_app
from webhooks.openapi import document


@pytest.fixture
def api_app(settings: Settings) -> Flask:
    """The app with one event sent, and a worker and beat stamp so /health is 200 (a 503
    there is a correct answer, but schemathesis counts any 5xx as a server error)."""
    app = create_app(configured(settings))
    rt = app.extensions["joelclaw"]
    rt.send([Event(name="test/steps", id="seeded-event")])
    rt.redis.hset(keys.WORKERS_SEEN, "w@openapi", time.time() + 600)
    rt.redis.set(keys.BEAT_TICK, time.time() + 600)
    return app


@pytest.fixture
def api_schema(api_app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/openapi.json", api_app)


def _dashboard_page(rule: str, endpoint: str) -> bool:
    return endpoint.startswith("dashboard.") and not rule.startswith("/api/")


def _flask_path(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_api_route_is_documented_and_every_documented_route_exists(
    api_app: Flask,
) -> None:
    routes: dict[str, set[str]] = {}
    for rule in api_app.url_map.iter_rules():
        if _dashboard_page(rule.rule, rule.endpoint):
            continue  # HTML pages and their form posts; their JSON twins are documented
        if rule.rule not in ("/api/openapi.json", "/webhooks/"):
            methods = {m.lower() for m in rule.methods or ()} - {"head", "options"}
            routes.setdefault(_flask_path(rule.rule), set()).update(methods)
    documented = {path: set(ops) for path, ops in document()["paths"].items()}
    assert documented == routes


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


# Every operation fuzzed 40 times in one test: ~1 min on a quiet machine, twice that with both
# cores taken; the bound only catches a hang.
@pytest.mark.timeout(600)
def test_the_api_never_answers_500_and_matches_its_document(
    api_schema: schemathesis.BaseSchema,
) -> None:
    """Each documented operation, fuzzed from the document (one Hypothesis run per operation;
    driven by hand rather than schemathesis' pytest plugin, which depends on pytest internals)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert operations, "the document lists no operation"
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=40, deadline=None, database=None,
                             suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer(), checks=CHECKS)

        check()
