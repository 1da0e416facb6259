"""Send Redis commands now and read their replies later, to overlap a round trip with other work.

Used where a write must reach Redis before something else happens but nobody needs its reply
yet: a step's "running" trace record (read back after the step ran), and the event dispatch
script (read back after the runs were published).
"""

from __future__ import annotations

from typing import Any

import redis


class Pending:
    """Commands already sent on a connection of their own; `replies()` reads and frees it."""

    def __init__(self, client: redis.Redis, commands: list[tuple[Any, ...]]):
        self.pool = client.connection_pool
        self.conn = self.pool.get_connection()
        self.count = len(commands)
        try:
            self.conn.send_packed_command(self.conn.pack_commands(commands))
        except BaseException:
            self._discard()
            raise

    def replies(self) -> list[Any]:
        """Each command's reply, or the exception Redis answered with (not raised)."""
        out: list[Any] = []
        try:
            for _ in range(self.count):
                try:
                    out.append(self.conn.read_response())
                except redis.exceptions.ResponseError as exc:
                    out.append(exc)
        except BaseException:
            self._discard()
            raise
        self.pool.release(self.conn)
        return out

    def _discard(self) -> None:
        """A connection with unread replies must never go back to the pool."""
        self.conn.disconnect()
        self.pool.release(self.conn)
