"""Who may use the web app: one rule for the JSON API, the dashboard, `/health`, `/metrics` and
`GET /webhooks` (provider webhooks carry their own signatures; the login page and the
dashboard's static files are public).

- The token is required: JOELCLAW_API_TOKEN, or the one `joelclaw up` generated into
  JOELCLAW_HOME/secrets/api-token (`joelclaw.credentials`). It comes as `Authorization: Bearer
  <token>` (scripts, the API) or as the dashboard's login cookie (a browser; not for `/api/`).
- No token at all: those routes answer 403 naming the fix, never open.
- JOELCLAW_WEB_OPEN_ON_LOOPBACK=true (an explicit opt-in) lets a request made directly on this
  machine in without a token: the app bound to loopback, the connection from a loopback address,
  a loopback Host, and no header any proxy adds. A reverse proxy on the same host that adds
  none (nginx's default `proxy_pass`) still makes its requests look direct: never combine the
  two.
- A wrong token counts against the caller's failure budget (`webhooks.limits`): 429 once spent.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from flask import Request, Response, current_app, request

from joelclaw.config import Settings
from webhooks import limits
from webhooks.app import runtime
from webhooks.http import fail

TOKEN = "joelclaw.api_token"  # app.extensions: the token this app requires (None: none set)
# Headers a proxy, load balancer or CDN adds naming the original client or host: any of them
# means the request was relayed, so it is not "direct on loopback".
PROXY_HEADERS = (
    "Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
    "X-Forwarded-Port", "X-Forwarded-Server", "X-Real-IP", "X-Client-IP", "Client-IP", "Via",
    "CF-Connecting-IP", "True-Client-IP", "X-Cluster-Client-IP", "Fastly-Client-IP",
    "X-Original-Forwarded-For", "X-ProxyUser-Ip",
)
HOW = ("send it as 'Authorization: Bearer <token>' (JOELCLAW_API_TOKEN, or the token `joelclaw "
       "up` keeps in JOELCLAW_HOME/secrets/api-token)")
NO_TOKEN = ("no API token is set, so nothing but webhooks is served: set JOELCLAW_API_TOKEN (or "
            "run `joelclaw up`, which generates one into JOELCLAW_HOME/secrets/api-token)")


@dataclass(frozen=True)
class Refused:
    status: int
    message: str
    code: str


def api_token() -> str | None:
    found: str | None = current_app.extensions.get(TOKEN)
    return found


def is_loopback_name(host: str) -> bool:
    import ipaddress

    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    """`127.0.0.1:3111` -> `127.0.0.1`, `[::1]:3111` -> `::1`."""
    if host_header.startswith("["):
        return host_header[1:].split("]", 1)[0]
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def open_on_loopback(settings: Settings, request: Request) -> bool:
    """The opt-in, and everything says the request is direct and local."""
    if not settings.web.open_on_loopback or not is_loopback_name(settings.web.host):
        return False
    if not is_loopback_name(request.remote_addr or ""):
        return False
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    return is_loopback_name(_host_name(request.host))


def bearer(request: Request) -> str | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def token_matches(given: str, expected: str | None) -> bool:
    if not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def check(request: Request, *, logged_in: bool = False) -> str | Refused:
    """"open", "bearer" or "cookie" (`logged_in`: a valid login cookie came with it) when the
    request may go on; else why not."""
    rt = runtime()
    if open_on_loopback(rt.settings, request):
        return "open"
    expected = api_token()
    if expected is None:
        return Refused(403, NO_TOKEN, "TOKEN_REQUIRED")
    given = bearer(request)
    if given is None:
        return "cookie" if logged_in else Refused(401, f"a token is required: {HOW}",
                                                  "UNAUTHORIZED")
    if _counted(limits.request_blocked, rt.redis, request):
        return Refused(429, "too many wrong tokens from this address: retry in a minute",
                       "RATE_LIMITED")
    if not token_matches(given, expected):
        _counted(limits.request_failed, rt.redis, request)
        return Refused(401, "wrong bearer token", "UNAUTHORIZED")
    return "bearer"


def _counted(call: Callable[..., Any], client: redis.Redis, request: Request) -> Any:
    """The failure budget lives in Redis; with Redis down the token alone decides (so
    /health can still say Redis is down), never an error."""
    try:
        return call(client, request, limits.TOKENS)
    except redis.RedisError:
        return None



def require(*, logged_in: bool = False) -> tuple[Response, int] | None:
    """The JSON refusal of the current request, or None when `check` lets it in."""
    verdict = check(request, logged_in=logged_in)
    if isinstance(verdict, Refused):
        return fail(verdict.status, verdict.message, verdict.code)
    return None
