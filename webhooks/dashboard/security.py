"""The dashboard's login session, and proof that a button press came from the dashboard itself.

Who may come in at all is `webhooks.access` (the token, or the explicit loopback opt-in). The
login page sets an HttpOnly, SameSite=Strict cookie signed with a key kept in Redis and the
token, so changing the token logs everyone out; each login is also recorded in Redis for the
cookie's lifetime, so logging out ends it for good (a copy of the cookie is worth nothing).

Every POST, open or not, carries a CSRF token: an HMAC of the session id in the cookie, checked
in constant time, plus an Origin / Sec-Fetch-Site check, so another site open in the same
browser cannot press the buttons.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from flask import Request, current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from joelclaw import keys
from webhooks.access import api_token
from webhooks.app import runtime

if TYPE_CHECKING:
    from werkzeug.wrappers import Response  # redirect() builds werkzeug's, flask's is one

    from joelclaw.runtime import Runtime

COOKIE = "jc_dashboard"
SALT = "joelclaw-dashboard-session"
GUARD = "joelclaw.dashboard.guard"  # app.extensions: the app's Guard (its key is cached)


@dataclass
class Session:
    sid: str
    authenticated: bool
    fresh: bool = False  # not yet in the browser: the response must set the cookie


class Guard:
    """Signs sessions and CSRF tokens for one app; the key lives in Redis for every worker."""

    def __init__(self, rt: Runtime, token: str | None):
        self.rt = rt
        self.token = token
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            self.rt.redis.set(keys.DASHBOARD_SECRET, secrets.token_hex(32), nx=True)
            stored = self.rt.redis.get(keys.DASHBOARD_SECRET) or b""
            self._key = hashlib.sha256(stored + b"\0" + (self.token or "").encode()).digest()
        return self._key

    @property
    def max_age(self) -> int:
        return int(self.rt.settings.web.dashboard_session_hours * 3600)

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.key(), salt=SALT)

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data: Any = self._serializer().loads(raw, max_age=self.max_age)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            return None
        sid, claimed = data["sid"], bool(data.get("auth"))
        live = claimed and bool(self.rt.redis.exists(keys.dashboard_session(sid)))
        return Session(sid, live)  # a logged-out cookie is an anonymous one

    def new(self, *, authenticated: bool) -> Session:
        return Session(secrets.token_urlsafe(24), authenticated, fresh=True)

    def store(self, response: Response, session: Session, *, secure: bool) -> None:
        if session.authenticated:
            self.rt.redis.set(keys.dashboard_session(session.sid), 1, ex=self.max_age)
        value = self._serializer().dumps({"sid": session.sid, "auth": session.authenticated})
        response.set_cookie(COOKIE, value, httponly=True, samesite="Strict", secure=secure,
                            max_age=self.max_age, path="/")

    def forget(self, response: Response, session: Session | None, *, secure: bool) -> None:
        """Log out: the login ends in Redis (every copy of its cookie) and in this browser."""
        if session is not None:
            self.rt.redis.delete(keys.dashboard_session(session.sid))
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict", secure=secure)

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self.key(), b"csrf:" + session.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session | None, given: str | None) -> bool:
        if session is None or not given:
            return False
        return hmac.compare_digest(self.csrf_token(session), given)


def current_guard() -> Guard:
    found: Guard | None = current_app.extensions.get(GUARD)
    if found is None:
        found = current_app.extensions[GUARD] = Guard(runtime(), api_token())
    return found


def logged_in(request: Request) -> bool:
    """A live dashboard login came with the request (its cookie, not yet logged out); with
    Redis down none can be checked (a bearer token still works)."""
    if COOKIE not in request.cookies:
        return False
    try:
        session = current_guard().read(request)
    except redis.RedisError:
        return False
    return bool(session is not None and session.authenticated)


def same_origin(request: Request) -> bool:
    """A POST from another site: Origin names another host, or the browser says cross-site."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    return urlsplit(origin).netloc.lower() == request.host.lower()


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//evil`, a scheme, a backslash, or a control or
    space character (browsers drop tabs and newlines, so `/\t/evil` would be `//evil`)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in "\\" or ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target
