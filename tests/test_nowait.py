"""An execution's writes go out without waiting for their replies (steps read nothing back):
the replies wait unread, in order, at most `MAX_UNREAD` batches behind, and a refused write
still fails the execution when its reply is read; real Redis."""

from __future__ import annotations

import pytest
import redis

from joelclaw.bus.execution import nowait

MAX_UNREAD = nowait.MAX_UNREAD


def _batch(*command: object) -> nowait.WriteBatch:
    batch = nowait.WriteBatch()
    batch.execute_command(*command)
    return batch


def test_replies_wait_unread_at_most_max_unread_batches_behind(runtime):
    wire = nowait.NoWait(runtime.redis)
    try:
        for i in range(MAX_UNREAD * 3):
            wire.send(_batch("RPUSH", "test:nowait", i))
            assert len(wire._unread) <= MAX_UNREAD
        last = wire.send(_batch("LLEN", "test:nowait"), keep=True)
        assert wire.replies(last) == [MAX_UNREAD * 3]  # every write applied, in order
    finally:
        wire.close()
    assert [int(v) for v in runtime.redis.lrange("test:nowait", 0, -1)] \
        == list(range(MAX_UNREAD * 3))


def test_a_refused_write_fails_when_a_later_reply_is_read(runtime):
    runtime.redis.set("test:nowait-text", "not a list")
    wire = nowait.NoWait(runtime.redis)
    try:
        wire.send(_batch("RPUSH", "test:nowait-text", 1))  # WRONGTYPE: nobody waits for it
        later = wire.send(_batch("PING"), keep=True)
        with pytest.raises(redis.exceptions.ResponseError, match="WRONGTYPE"):
            wire.replies(later)
    finally:
        wire.close()


def test_an_hset_or_rpush_joins_the_same_command_on_the_same_key_before_it(runtime):
    batch = nowait.WriteBatch()
    batch.hset("test:joined-hash", mapping={"a": 1, "b": 1})
    batch.hset("test:joined-hash", mapping={"b": 2})
    batch.rpush("test:joined-list", "x", "y")
    batch.rpush("test:joined-list", "z")
    batch.rpush("test:other-list", "w")
    assert [c[0] for c in batch.commands] == ["HSET", "RPUSH", "RPUSH"]
    wire = nowait.NoWait(runtime.redis)
    try:
        wire.replies(wire.send(batch, keep=True))
    finally:
        wire.close()
    assert runtime.redis.hgetall("test:joined-hash") == {b"a": b"1", b"b": b"2"}
    assert runtime.redis.lrange("test:joined-list", 0, -1) == [b"x", b"y", b"z"]
