"""The web process: one Flask application factory for webhooks, the JSON API and `/health`.

Nothing is built at import time: gunicorn calls `create_app()` (`'webhooks:create_app()'`) and
tests build their own app with explicit settings. Blueprints reach the runtime through
`webhooks.app.runtime()` and never import this package's names, so the factory can import them
(under names that do not shadow their submodules: `webhooks.metrics` stays the module).
"""

from __future__ import annotations

from flask import Flask

from joelclaw.config import Settings, load_settings
from joelclaw.credentials import api_token
from joelclaw.redaction import install_log_redaction
from joelclaw.runtime import Runtime
from webhooks import access, api_control, api_forget, errors
from webhooks.api import blueprint as api_routes
from webhooks.app import EXTENSION, AnyId, use_redacting_json
from webhooks.dashboard import blueprint as dashboard_routes
from webhooks.health import blueprint as health_routes
from webhooks.metrics import blueprint as metrics_routes
from webhooks.routes import blueprint as webhook_routes


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; settings come from the environment unless given."""
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["anyid"] = AnyId
    rt = Runtime(settings or load_settings())
    install_log_redaction(rt.settings)
    app.extensions[EXTENSION] = rt
    app.extensions[access.TOKEN] = api_token(rt.settings)  # the one every view requires
    use_redacting_json(app, rt)
    for blueprint in (health_routes, webhook_routes, api_routes, metrics_routes,
                      dashboard_routes):
        app.register_blueprint(blueprint)
    errors.install(app)
    return app


__all__ = ["api_control", "api_forget", "create_app"]
