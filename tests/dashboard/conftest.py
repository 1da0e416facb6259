"""Dashboard fixtures: settings with the dashboard's test functions and review queue, the Flask
app and its client (for HTTP-level tests), and for browser tests a real gunicorn, a real worker
and a headless Debian chromium driven by Playwright."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from joelclaw.config import Settings
from joelclaw.runtime import Runtime
from tests.conftest import TEST_MODULES, make_settings
from tests.dashboard.looks import open_tab
from webhooks import create_app

DASH_MODULES = [*TEST_MODULES, "tests.dashboard.dashfunctions"]
REVIEW_PROVIDER = "tests.dashboard.review_store:review_queue"
TOKEN = "dashboard-test-token-0123456789"
AppFactory = Callable[..., Flask]


def dash_settings(home: Path, redis_url: str, **overrides: Any) -> Settings:
    """The pages' tests run with the loopback opt-in (no login on this machine); the security
    tests say `web_open_on_loopback=False` (the default) where they test who may come in."""
    values: dict[str, Any] = {"function_modules": DASH_MODULES,
                              "memory_review_provider": REVIEW_PROVIDER,
                              "web_open_on_loopback": True}
    values.update(overrides)
    return make_settings(home, redis_url, **values)


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    """Overrides the suite's settings, so `worker_factory` runs the dashboard's functions."""
    return dash_settings(tmp_path / "home", redis_url)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    runtime: Runtime = app.extensions["joelclaw"]
    return runtime


@pytest.fixture
def app_factory(tmp_path: Path, redis_url: str) -> AppFactory:
    """An app with other settings (bind address, token, provider)."""
    def build(**overrides: Any) -> Flask:
        return create_app(dash_settings(tmp_path / "home", redis_url, **overrides))
    return build


SCREENSHOTS = Path(__file__).resolve().parents[2] / "tmp" / "artefacts" / "dashboard"


def screenshots_path() -> Path:
    """Where screenshots are kept as test artefacts: DASHBOARD_SCREENSHOTS, else
    tmp/artefacts/dashboard in the repository (ignored by git)."""
    chosen = os.environ.get("DASHBOARD_SCREENSHOTS")
    return Path(chosen) if chosen else SCREENSHOTS


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Screenshots of every page at phone and desktop widths, light and dark."""
    path = screenshots_path()
    path.mkdir(parents=True, exist_ok=True)
    return path



@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    chromium = "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Debian's chromium is not installed (.ci/run installs it: apt-get install "
                    "-y chromium chromium-driver)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture
def early_worker(worker_factory: Callable[..., Any]) -> Any:
    """A worker started before the page's server and not waited for: the test asks for it
    first and calls `.wait_ready()`, so the two start side by side instead of one after the
    other."""
    return worker_factory(wait=False)


@pytest.fixture
def server(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """The web app as `joelclaw up` serves it: a real gunicorn on a free loopback port."""
    from tests.webhooks.gunicorn_support import Gunicorn

    web = Gunicorn(settings, tmp_path / "gunicorn.log").wait_ready()
    yield web
    web.stop()


@pytest.fixture
def page(browser: Any, server: Any, screenshot_dir: Path) -> Iterator[Any]:
    """A fresh browser context on the server; console errors (a CSP violation, a script
    error) are collected in `page.console_errors` for the tests to check."""
    tab = open_tab(browser, server.url)
    yield tab
    tab.context.close()
