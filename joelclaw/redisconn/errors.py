"""Redis's errors as the clients this process loaded raise them: redis-py's, and those of the
CLI's small client (`resp`). Code that catches a Redis error asks here rather than importing
redis-py, so a command the small client answers (`joelclaw status`) never loads redis-py just to
catch what it cannot raise: a client never imported raised nothing.
"""

from __future__ import annotations

import sys


def errors() -> tuple[type[Exception], ...]:
    """Any Redis error: unreachable, timed out, or an error answer."""
    found: list[type[Exception]] = []
    if (redis := sys.modules.get("redis")) is not None:
        found.append(redis.RedisError)
    if (quick := sys.modules.get("joelclaw.redisconn.resp")) is not None:
        found += [quick.ConnectionFailed, quick.ReplyError]
    return tuple(found)


def reply_errors() -> tuple[type[Exception], ...]:
    """An error answer (a refused CONFIG, an unknown command): redis-py's ResponseError, the
    small client's ReplyError."""
    found: list[type[Exception]] = []
    if (redis := sys.modules.get("redis")) is not None:
        found.append(redis.exceptions.ResponseError)
    if (quick := sys.modules.get("joelclaw.redisconn.resp")) is not None:
        found.append(quick.ReplyError)
    return tuple(found)
