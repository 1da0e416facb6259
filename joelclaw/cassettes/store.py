"""Where cassettes live in Redis: one JSON string each, a hash per run naming them by step and
number, and a trimmed index of recent model calls (keys and retention in `joelclaw.keys`)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.cassettes.model import Cassette

if TYPE_CHECKING:
    import redis


def new_id() -> str:
    return f"cas-{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:8]}"


def slot(step: str, seq: int) -> str:
    return f"{step}#{seq}"


class CassetteStore:
    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    def save(self, cassette: Cassette) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.set(keys.cassette(cassette.id), cassette.model_dump_json(), ex=keys.CASSETTE_TTL)
        if cassette.run_id is not None and cassette.step is not None:
            index = keys.cassettes_of_run(cassette.run_id)
            pipe.hset(index, slot(cassette.step, cassette.seq), cassette.id)
            pipe.expire(index, keys.CASSETTE_TTL)
        if cassette.is_model_call:
            pipe.zadd(keys.CASSETTES_LLM, {cassette.id: cassette.at})
            pipe.zremrangebyrank(keys.CASSETTES_LLM, 0, -(keys.CASSETTES_KEEP + 1))
        pipe.execute()

    def get(self, cassette_id: str) -> Cassette | None:
        raw = self.redis.get(keys.cassette(cassette_id))
        return Cassette.model_validate_json(raw) if raw else None

    def many(self, ids: list[str]) -> list[Cassette]:
        """The cassettes that have not expired, in the order asked."""
        if not ids:
            return []
        raws = self.redis.mget([keys.cassette(i) for i in ids])
        return [Cassette.model_validate_json(raw) for raw in raws if raw]

    def of_run(self, run_id: str) -> dict[tuple[str, int], Cassette]:
        """(step, n) -> the n-th external call of that step's last attempt."""
        index = {k.decode(): v.decode()
                 for k, v in self.redis.hgetall(keys.cassettes_of_run(run_id)).items()}
        found = {c.id: c for c in self.many(list(index.values()))}
        out: dict[tuple[str, int], Cassette] = {}
        for name, cassette_id in index.items():
            step, _, seq = name.rpartition("#")
            if cassette_id in found:
                out[(step, int(seq))] = found[cassette_id]
        return out

    def recent(self, limit: int = 50) -> list[Cassette]:
        """The newest model calls, newest first."""
        ids = [raw.decode() for raw in self.redis.zrevrange(keys.CASSETTES_LLM, 0, limit - 1)]
        return self.many(ids)
