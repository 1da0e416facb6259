"""Per-IP limit on authentication failures (webhook signatures, wrong API tokens, wrong
logins): 20 within 60 s and the IP gets 429s.

A fixed 60 s window per IP, counted in Redis so every gunicorn worker shares it. The increment
and the window's expiry are one Lua script, so a crash between them cannot leave a counter that
never expires (which would lock a provider's IP out for good).

Behind a local reverse proxy the caller is the proxy's X-Forwarded-For entry; a client talking
to us directly on loopback can write that header too, so every failure is also counted against
the connection's own peer, with a budget for all the clients a proxy relays (`PEER_FAILURES`):
rotating X-Forwarded-For buys at most that many guesses a minute.
"""

from __future__ import annotations

import ipaddress

import redis
from flask import Request

from joelclaw import keys

MAX_FAILURES = 20
PEER_FAILURES = 100  # per connecting address, whatever X-Forwarded-For says
WINDOW_SECONDS = keys.WEBHOOK_FAILURE_WINDOW

_INCR_WITH_TTL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return n
"""


WEBHOOKS, TOKENS = "webhooks", "tokens"  # two budgets: a provider's bad secret never locks
# the owner out of the dashboard, nor the reverse


def failure_key(ip: str, scope: str = WEBHOOKS) -> str:
    return keys.webhook_failures(ip) if scope == WEBHOOKS else keys.token_failures(ip)


def is_blocked(client: redis.Redis, ip: str, scope: str = WEBHOOKS) -> bool:
    """True when the IP already used up its failures in the current window."""
    count = client.get(failure_key(ip, scope))
    return count is not None and int(count) >= MAX_FAILURES


def record_failure(client: redis.Redis, ip: str, scope: str = WEBHOOKS) -> int:
    """Count one failure; returns the failures in the current window."""
    return int(client.eval(_INCR_WITH_TTL, 1, failure_key(ip, scope), WINDOW_SECONDS))


def peer_key(request: Request) -> str | None:
    """The connection's own address as a budget of its own, when X-Forwarded-For named
    another caller (None: the caller is the peer)."""
    peer = request.remote_addr or "unknown"
    return f"peer:{peer}" if client_ip(request) != peer else None


def request_blocked(client: redis.Redis, request: Request, scope: str = WEBHOOKS) -> bool:
    """The caller, or the connection relaying it, used up its failures in this window."""
    if is_blocked(client, client_ip(request), scope):
        return True
    peer = peer_key(request)
    if peer is None:
        return False
    count = client.get(failure_key(peer, scope))
    return count is not None and int(count) >= PEER_FAILURES


def request_failed(client: redis.Redis, request: Request, scope: str = WEBHOOKS) -> None:
    """Count one failure against the caller and the connection relaying it."""
    record_failure(client, client_ip(request), scope)
    peer = peer_key(request)
    if peer is not None:
        record_failure(client, peer, scope)


def client_ip(request: Request) -> str:
    """The caller's address. Behind the local reverse proxy (a loopback peer) the proxy's own
    entry, the rightmost X-Forwarded-For hop, is the real caller; entries left of it are
    whatever the client claimed and are never trusted."""
    peer = request.remote_addr or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if not forwarded or not _is_loopback(peer):
        return peer
    last = forwarded.split(",")[-1].strip()
    return last if _is_address(last) else peer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
