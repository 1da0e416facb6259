"""Who may use the dashboard, and proof that a button press came from the dashboard itself.

Open (no login) only when everything says the request is local: the web app is bound to
loopback (`JOELCLAW_WEB_HOST`), the request did not come through a proxy (no forwarding
headers) and its Host names loopback (which also defeats DNS rebinding). Anything else needs
`JOELCLAW_API_TOKEN`: as a bearer header (scripts) or through the login page, which sets an
HttpOnly, SameSite=Strict cookie signed with a key kept in Redis and the token, so changing the
token logs everyone out.

Every POST, open or not, carries a CSRF token: an HMAC of the session id in the cookie, checked
in constant time, plus an Origin / Sec-Fetch-Site check, so another site open in the same
browser cannot press the buttons.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from joelclaw import keys

if TYPE_CHECKING:
    from flask import Response

    from joelclaw.runtime import Runtime

COOKIE = "jc_dashboard"
SALT = "joelclaw-dashboard-session"
FORWARDING_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Forwarded")


@dataclass
class Session:
    sid: str
    authenticated: bool
    fresh: bool = False  # not yet in the browser: the response must set the cookie


def is_loopback(host: str) -> bool:
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


def open_access(web_host: str, request: Request) -> bool:
    """True when no login is needed: bound to loopback, asked directly, by a loopback name."""
    if not is_loopback(web_host):
        return False
    if any(request.headers.get(h) for h in FORWARDING_HEADERS):
        return False
    return is_loopback(_host_name(request.host))


class Guard:
    """Signs sessions and CSRF tokens for one app; the key lives in Redis for every worker."""

    def __init__(self, rt: Runtime):
        self.rt = rt
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            self.rt.redis.set(keys.DASHBOARD_SECRET, secrets.token_hex(32), nx=True)
            stored = self.rt.redis.get(keys.DASHBOARD_SECRET) or b""
            token = (self.rt.settings.api_token or "").encode()
            self._key = hashlib.sha256(stored + b"\0" + token).digest()
        return self._key

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key(), salt=SALT)

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        max_age = int(self.rt.settings.dashboard_session_hours * 3600)
        try:
            data: Any = self._serializer().loads(raw, max_age=max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            return None
        return Session(data["sid"], bool(data.get("auth")))

    def new(self, *, authenticated: bool) -> Session:
        return Session(secrets.token_urlsafe(24), authenticated, fresh=True)

    def store(self, response: Response, session: Session, *, secure: bool) -> None:
        value = self._serializer().dumps({"sid": session.sid, "auth": session.authenticated})
        response.set_cookie(COOKIE, value, httponly=True, samesite="Strict", secure=secure,
                            max_age=int(self.rt.settings.dashboard_session_hours * 3600),
                            path="/")

    def forget(self, response: Response, *, secure: bool) -> None:
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=secure)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self.key(), b"csrf:" + session.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session | None, given: str | None) -> bool:
        if session is None or not given:
            return False
        return hmac.compare_digest(self.csrf_token(session), given)

    def token_ok(self, given: str) -> bool:
        expected = self.rt.settings.api_token
        if not expected:
            return False
        return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def bearer(request: Request) -> str | None:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip() else None


def same_origin(request: Request) -> bool:
    """A POST from another site: Origin names another host, or the browser says cross-site."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == request.host.lower()


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//evil`, a scheme, or a backslash trick."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\"):
        return "/"
    return target
