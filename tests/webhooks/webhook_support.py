"""Helpers for the webhook route tests: the signed fixtures, each provider's fixture secret,
settings that configure them, and an independent signer for bodies the tests make up.

The signer re-implements each scheme from the provider's documentation (not from
webhooks/providers), so a route test that passes proves both sides agree."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from joelclaw.config import Settings

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "webhooks"
PROVIDER_NAMES = ("github", "todoist", "front", "vercel", "telegram")
API_TOKEN = "test-api-token-0123456789"
TELEGRAM_OWNER = 7718912466  # the sender of the Telegram fixtures
FUNCTION_MODULES = ["tests.functions", "tests.webhooks.functions_webhooks"]
SECRET_SETTINGS = {
    "github": "github_webhook_secret", "todoist": "todoist_client_secret",
    "front": "front_webhook_secret", "vercel": "vercel_webhook_secret",
    "telegram": "telegram_webhook_secret",
}


def secret(provider: str) -> str:
    vectors = json.loads((FIXTURES / provider / "vectors.json").read_text(encoding="utf-8"))
    return str(vectors["fixture_secret"])


def configured(settings: Settings, **overrides: Any) -> Settings:
    """The test settings with every provider secret, the API token and the webhook functions."""
    values: dict[str, Any] = {name: secret(p) for p, name in SECRET_SETTINGS.items()}
    values.update(api_token=API_TOKEN, function_modules=FUNCTION_MODULES,
                  telegram_owner_id=TELEGRAM_OWNER)
    values.update(overrides)
    return settings.with_overrides(**values)


def fixture_names(provider: str) -> list[str]:
    folder = FIXTURES / provider
    return sorted(p.stem for p in folder.glob("*.json")
                  if p.name != "vectors.json" and ".headers" not in p.name)


def fixture(provider: str, name: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of a fixture; Front app webhooks are re-signed with a fresh
    timestamp because the provider rejects timestamps older than five minutes."""
    folder = FIXTURES / provider
    raw = (folder / f"{name}.json").read_bytes()
    headers = json.loads((folder / f"{name}.headers.json").read_text(encoding="utf-8"))
    if provider == "front" and "X-Front-Request-Timestamp" in headers:
        headers = sign("front", raw, headers)
    return raw, headers


def sign(provider: str, raw: bytes, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers with a valid signature of `raw` for `provider` (Front: the app scheme)."""
    out = dict(headers or {})
    key = secret(provider).encode()
    if provider == "github":
        out["X-Hub-Signature-256"] = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
        out.setdefault("X-GitHub-Event", "push")
    elif provider == "todoist":
        digest = hmac.new(key, raw, hashlib.sha256).digest()
        out["X-Todoist-Hmac-SHA256"] = base64.b64encode(digest).decode()
    elif provider == "front":
        stamp = str(int(time.time() * 1000))
        digest = hmac.new(key, stamp.encode() + b":" + raw, hashlib.sha256).digest()
        out["X-Front-Request-Timestamp"] = stamp
        out["X-Front-Signature"] = base64.b64encode(digest).decode()
    elif provider == "vercel":
        out["x-vercel-signature"] = hmac.new(key, raw, hashlib.sha1).hexdigest()
    elif provider == "telegram":
        out["X-Telegram-Bot-Api-Secret-Token"] = secret(provider)
    out["Content-Type"] = "application/json"
    return out


def bearer(token: str = API_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TokenClient(FlaskClient):
    """A test client that sends the API token with every request, like a script would."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {API_TOKEN}"


def with_token(app: Flask) -> Flask:
    """`app`, whose test clients send the API token (the routes under test need it)."""
    app.test_client_class = TokenClient
    return app
