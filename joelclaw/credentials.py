"""The credentials joelclaw generates for its owner when none are configured, kept owner-only
under JOELCLAW_HOME/secrets/ (0700, files 0600) so the CLI, the dashboard login and a second
shell find the same ones:

- `api-token`: the web app's token (the JSON API, the dashboard login, /health, /metrics) when
  JOELCLAW_API_TOKEN is unset; `joelclaw up` creates it, every process reads it;
- `flower`: Flower's basic-auth `user:password` when JOELCLAW_FLOWER_USER/_PASSWORD are unset.
"""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from joelclaw.errors import ConfigError
from joelclaw.ownerfiles import stored_secret

if TYPE_CHECKING:
    from joelclaw.config import Settings

FLOWER_USER = "joelclaw"


def secrets_dir(settings: Settings) -> Path:
    return settings.home_dir / "secrets"


def api_token_file(settings: Settings) -> Path:
    return secrets_dir(settings) / "api-token"


def flower_file(settings: Settings) -> Path:
    return secrets_dir(settings) / "flower"


def api_token(settings: Settings) -> str | None:
    """JOELCLAW_API_TOKEN, else the token `joelclaw up` generated (None: no token at all)."""
    if settings.web.api_token:
        return settings.web.api_token
    with contextlib.suppress(OSError):
        return api_token_file(settings).read_text().strip() or None
    return None


def ensure_api_token(settings: Settings) -> str:
    """The configured token, or the generated one (created once, 0600)."""
    return settings.web.api_token or stored_secret(api_token_file(settings))


def flower_credentials(settings: Settings) -> tuple[str, str]:
    """JOELCLAW_FLOWER_USER/_PASSWORD, else a generated pair kept in `secrets/flower`."""
    user, password = settings.flower.user, settings.flower.password
    if bool(user) != bool(password):
        raise ConfigError("set both JOELCLAW_FLOWER_USER and JOELCLAW_FLOWER_PASSWORD, or "
                          "neither (then a generated pair is kept in JOELCLAW_HOME/secrets/"
                          "flower)")
    if user and password:
        if ":" in user or "," in user + password:
            raise ConfigError("JOELCLAW_FLOWER_USER may not contain ':' and neither it nor "
                              "JOELCLAW_FLOWER_PASSWORD may contain ',' (Flower splits on "
                              "them)")
        return user, password
    pair = stored_secret(flower_file(settings),
                         lambda: f"{FLOWER_USER}:{secrets.token_urlsafe(24)}")
    stored_user, _, stored_password = pair.partition(":")
    if not stored_user or not stored_password or "," in pair:
        raise ConfigError(f"{flower_file(settings)} must hold `user:password`: delete it to "
                          "generate a new pair")
    return stored_user, stored_password


def describe_flower_auth(settings: Settings) -> str:
    """Where the owner finds Flower's password (never the password itself)."""
    if settings.flower.user:
        return f"user {settings.flower.user}, password JOELCLAW_FLOWER_PASSWORD"
    return f"user {FLOWER_USER}, password in {flower_file(settings)}"
