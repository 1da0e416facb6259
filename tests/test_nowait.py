"""An execution's writes go out without waiting for their replies (steps read nothing back):
the replies wait unread, in order, at most `MAX_UNREAD` batches behind, and a refused write
still fails the execution when its reply is read; real Redis."""

from __future__ import annotations

import pytest
import redis

from joelclaw import keys
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


def test_replies_left_for_later_go_to_their_reader_with_those_sent_before_and_raise_nothing(
        runtime):
    runtime.redis.set("test:nowait-text", "not a list")
    read: list[list[object]] = []
    wire = nowait.NoWait(runtime.redis)
    try:
        wire.send(_batch("RPUSH", "test:nowait-text", 1))  # an earlier write, refused
        wire.send(_batch("RPUSH", "test:nowait-later", 2), later=read.append)
        assert wire.unread == 2 and read == []  # nothing read yet: nobody waited
        wire.drain()  # what the thread's next execution does first
    finally:
        wire.close()
    assert len(read) == 2 and isinstance(read[0][0], redis.exceptions.ResponseError)
    assert read[1] == [1] and wire.unread == 0


def test_a_workers_execution_leaves_its_final_write_for_the_next_one_to_confirm(runtime):
    """Through the function's Celery task (`confirm_end=False`) a completed run's final write
    is sent, not waited for: the thread's next execution reads its reply first."""
    from joelclaw.bus.execution import confirm_ended, execute
    from joelclaw.events.model import Event

    fn = runtime.function("t-steps")
    assert fn is not None
    first, second = (runtime.send(Event(name="test/steps", data={}))[0].runs[0]
                     for _ in range(2))
    assert execute(runtime, fn, first, confirm_end=False) == "completed"
    assert execute(runtime, fn, second, confirm_end=False) == "completed"
    # the second one's final write was left unread (the first one's was read by the second)
    assert confirm_ended(runtime) >= 1
    assert confirm_ended(runtime) == 0
    for run_id in (first, second):
        run = runtime.runs.get(run_id)
        assert run is not None and run.status == "completed" and run.output["three"] == 1
        assert not runtime.redis.exists(keys.lease(run_id))
