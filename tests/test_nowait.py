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
