"""The Flask app with every provider secret and the API token configured, its test client, and
its runtime: shared by the route, API and fuzz tests."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.webhooks.webhook_support import configured
from webhooks import create_app


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(configured(settings))


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["joelclaw"]
    return runtime
