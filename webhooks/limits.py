"""Per-IP limit on webhook signature failures: 20 within 60 s and the IP gets 429s.

A fixed 60 s window per IP, counted in Redis so every gunicorn worker shares it. The increment
and the window's expiry are one Lua script, so a crash between them cannot leave a counter that
never expires (which would lock a provider's IP out for good).
"""

from __future__ import annotations

import ipaddress

import redis
from flask import Request

from joelclaw import keys

MAX_FAILURES = 20
WINDOW_SECONDS = keys.WEBHOOK_FAILURE_WINDOW

_INCR_WITH_TTL = """
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return n
"""


def failure_key(ip: str) -> str:
    return keys.webhook_failures(ip)


def is_blocked(client: redis.Redis, ip: str) -> bool:
    """True when the IP already used up its failures in the current window."""
    count = client.get(failure_key(ip))
    return count is not None and int(count) >= MAX_FAILURES


def record_failure(client: redis.Redis, ip: str) -> int:
    """Count one failure; returns the failures in the current window."""
    return int(client.eval(_INCR_WITH_TTL, 1, failure_key(ip), WINDOW_SECONDS))


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
