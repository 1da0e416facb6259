"""Delivery progress of one queued message, durable in Redis.

A reply longer than 4096 characters goes out as several Telegram messages, and any send can fail
(429 after the client's retries, Telegram down). The message then stays unacknowledged and is
handled again, so what was already done must not be done twice: the reply is stored before the
first send (a retry sends the stored answer instead of running the agent turn or the command
again) and every chunk Telegram accepts is recorded (a retry resumes after the last delivered
chunk instead of at chunk 1). Acknowledging the message drops its record (`forget`).

At least once still holds at the edge: a process killed between Telegram's answer and the
record's write re-sends that one chunk.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from joelclaw import keys

if TYPE_CHECKING:
    import redis

TEXT, COVERS = "text", "ids"


class Delivery:
    """The stored reply of one queued message and the Telegram ids of its delivered chunks."""

    def __init__(self, client: redis.Redis, message_id: str) -> None:
        self.redis, self.key = client, keys.gw_delivery(message_id)
        raw = {k.decode(): v.decode() for k, v in client.hgetall(self.key).items()}
        self.text: str | None = raw.get(TEXT)
        self.covers: list[str] = json.loads(raw[COVERS]) if COVERS in raw else []
        self.sent: list[int] = []
        while f"m{len(self.sent)}" in raw:  # chunks are recorded in order
            self.sent.append(int(raw[f"m{len(self.sent)}"]))

    @property
    def answered(self) -> bool:
        return self.text is not None

    def answer(self, produce: Callable[[], str], covers: Iterable[str] = ()) -> str:
        """The stored reply, or produce it once and store it before anything is sent."""
        if self.text is None:
            text, ids = produce(), list(covers)
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(self.key, mapping={TEXT: text, COVERS: json.dumps(ids)})
            pipe.expire(self.key, keys.GW_DELIVERY_TTL)
            pipe.execute()
            self.text, self.covers = text, ids
        return self.text

    def delivered(self, index: int, message_id: int) -> None:
        """Telegram accepted chunk `index` (0-based) as message `message_id`."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.key, f"m{index}", message_id)
        pipe.expire(self.key, keys.GW_DELIVERY_TTL)
        pipe.execute()
        if index == len(self.sent):
            self.sent.append(message_id)


def forget(client: redis.Redis | redis.client.Pipeline, ids: Iterable[str]) -> None:
    """Drop the records of acknowledged messages (their TTL would, a day later)."""
    names = [keys.gw_delivery(i) for i in ids]
    if names:
        client.delete(*names)
