"""Writes that go out at once and whose replies are read only when something depends on them.

An execution writes its steps' trace and memo records on a connection of its own (`NoWait`):
each batch is sent as soon as it is built, and its replies are read later, in order, when the
execution needs one (the final script's reply) or when `MAX_UNREAD` batches wait unread. So a
step waits for no round trip, and a one-step run for two in all (its start and its end). One
connection keeps the writes in order; everything read back is checked, so a failed write still
fails the execution, at the latest with its final write (whose own reply is read last).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import redis
from hiredis import pack_command  # redis[hiredis] is a dependency
from redis.commands.core import CoreCommands

_JOINED = frozenset({"HSET", "RPUSH"})  # commands that join the same command before them


class WriteBatch(CoreCommands):
    """Redis commands collected (redis-py's command methods), to be sent as one batch.

    An HSET right after an HSET of the same key joins it: one command sets the fields of both
    (a step's memo and trace records, the next step's "running" record, the run's own fields
    all go to the run's hash), with the same effect (Redis sets a command's fields in order, the
    last value of a field wins); so does an RPUSH after an RPUSH to the same list (a run's step
    and outcome metrics). The index of a command in the batch is its reply's.
    """

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *args: Any, **options: Any) -> WriteBatch:
        last = self.commands[-1] if self.commands else None
        if (last is not None and args[0] in _JOINED and last[0] == args[0]
                and last[1] == args[1]):
            self.commands[-1] = (*last, *args[2:])
        else:
            self.commands.append(args)
        return self

    def extend(self, other: WriteBatch) -> None:
        """Append another batch's commands (joined the same way)."""
        for command in other.commands:
            self.execute_command(*command)

    def __len__(self) -> int:
        return len(self.commands)


MAX_UNREAD = 32  # batches sent whose replies wait unread; older ones are read (long arrived)


class NoWait:
    """One connection of its own; `send` returns a ticket, `replies(ticket)` reads up to it."""

    def __init__(self, client: redis.Redis):
        self.pool = client.connection_pool
        self.conn: Any = None
        # (ticket, replies expected, transaction, kept for `replies`)
        self._unread: deque[tuple[int, int, bool, bool]] = deque()
        self._read: dict[int, list[Any]] = {}
        self._tickets = 0

    def send(self, batch: WriteBatch, *, transaction: bool = False, keep: bool = False) -> int:
        """Send the batch now. With `keep`, its replies wait for `replies(ticket)` (errors as
        exception objects); otherwise they are checked when read and an error is raised."""
        commands = batch.commands
        if transaction:
            commands = [("MULTI",), *commands, ("EXEC",)]
        if self.conn is None:
            self.conn = self.pool.get_connection()
        try:
            self.conn.send_packed_command(_pack(self.conn, commands))
        except BaseException:
            self.discard()
            raise
        self._tickets += 1
        self._unread.append((self._tickets, len(commands), transaction, keep))
        while len(self._unread) > MAX_UNREAD:  # a long run: replies Redis sent long ago
            self._read_next()
        return self._tickets

    def replies(self, ticket: int) -> list[Any]:
        """The replies of batch `ticket` (sent with `keep`), reading those before it."""
        while ticket not in self._read:
            if not self._unread:
                raise KeyError(f"batch {ticket} was not sent with keep=True")
            self._read_next()
        return self._read.pop(ticket)

    def _read_next(self) -> None:
        number, count, transaction, keep = self._unread.popleft()
        replies = self._read_batch(count, transaction)
        if keep:
            self._read[number] = replies
        else:
            raise_errors(replies)

    def _read_batch(self, count: int, transaction: bool) -> list[Any]:
        out: list[Any] = []
        try:
            for _ in range(count):
                try:
                    out.append(self.conn.read_response())
                except redis.exceptions.ResponseError as exc:
                    out.append(exc)
        except BaseException:
            self.discard()
            raise
        if transaction:
            executed = out[-1]
            if isinstance(executed, Exception):
                return [executed] * (count - 2)
            return list(executed)
        return out

    def drain(self) -> None:
        """Read every outstanding reply (so the writes are known to be applied)."""
        while self._unread:
            self._read_next()

    def close(self) -> None:
        """Give the connection back; one with unread replies is dropped instead."""
        if self.conn is None:
            return
        if self._unread:
            self.discard()
            return
        self.pool.release(self.conn)
        self.conn = None

    def discard(self) -> None:
        """A connection with unread replies must never go back to the pool."""
        if self.conn is not None:
            self.conn.disconnect()
            self.pool.release(self.conn)
            self.conn = None
        self._unread.clear()


def _pack(conn: Any, commands: list[tuple[Any, ...]]) -> Any:
    """The commands in the Redis protocol, as chunks to send: hiredis packs each in one call
    (redis-py encodes every argument in Python first, which was a fifth of an execution's
    CPU) and gives the same bytes; anything it does not take as is (a bool, a memoryview, a
    command name of two words) goes to redis-py, which packs it or raises its own error."""
    try:
        if not any(isinstance(c[0], str) and " " in c[0] for c in commands):
            return [b"".join([pack_command(command) for command in commands])]
    except TypeError:
        pass
    return conn.pack_commands(commands)


def raise_errors(replies: list[Any]) -> list[Any]:
    """The replies, or the first error among them raised."""
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return replies
