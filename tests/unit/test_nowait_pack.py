"""An execution's writes are packed by hiredis in one call per command (joelclaw.bus.execution.
nowait): the bytes must be redis-py's own, and what hiredis refuses goes to redis-py, which
packs it or raises its own error."""

from __future__ import annotations

import pytest
import redis
from redis.connection import Connection

from joelclaw.bus.execution.nowait import WriteBatch, _pack


def _redis_py(commands: list[tuple[object, ...]]) -> bytes:
    return b"".join(Connection().pack_commands(commands))


def test_the_packed_batch_is_the_one_redis_py_would_send() -> None:
    batch = WriteBatch()
    batch.hset("jc:run:r-1", mapping={"status": "running", "started_at": 1733000000.123456,
                                      "executions": 3, "note": "déjà vu", "raw": b"\x00\xff"})
    batch.hincrbyfloat("jc:metrics", "f|run|sum", 0.1)
    batch.expire("jc:run:r-1", 86400)
    batch.evalsha("0" * 40, 2, "k1", "k2", "token", -0.0, 10**20)
    packed = _pack(Connection(), batch.commands)
    assert b"".join(packed) == _redis_py(batch.commands)


def test_what_hiredis_refuses_redis_py_packs_or_refuses() -> None:
    two_words = [("SCRIPT LOAD", "return 1")]
    assert b"".join(_pack(Connection(), two_words)) == _redis_py(two_words)
    view = [("SET", "k", memoryview(b"abc"))]
    assert b"".join(_pack(Connection(), view)) == _redis_py(view)
    with pytest.raises(redis.exceptions.DataError):
        _pack(Connection(), [("SET", "k", True)])
