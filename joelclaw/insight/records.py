"""Run heads: a few fields of many runs in one round trip, decoded by the run model itself.

A page that shows 50 runs or the statistics of 20 functions needs status and timestamps, not
whole records with their events. `HMGET` of the named fields, decoded by `Run.from_redis`, keeps
the record's encoding owned by `joelclaw.bus.runs` while moving a fraction of the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.bus.runs import Run

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime

HEAD_FIELDS = ("id", "function", "status", "trigger", "created_at", "started_at", "ended_at",
               "attempts", "replay_of")


def run_heads(rt: Runtime, run_ids: Sequence[str],
              fields: Sequence[str] = HEAD_FIELDS) -> list[Run | None]:
    """The named fields of each run (None for a run that expired), in the order given."""
    if not run_ids:
        return []
    names = [f.encode() for f in fields]
    pipe = rt.redis.pipeline(transaction=False)
    for run_id in run_ids:
        pipe.hmget(keys.run(run_id), list(fields))
    heads: list[Run | None] = []
    for values in pipe.execute():
        present = {n: v for n, v in zip(names, values, strict=True) if v is not None}
        heads.append(Run.from_redis(present) if b"id" in present else None)
    return heads


def index_page(rt: Runtime, function: str | None, since: float | None, limit: int) -> list[str]:
    """The newest run ids (of one function, or all), since a time, newest first."""
    index = keys.runs_of_function(function) if function else keys.RUN_INDEX
    low = "-inf" if since is None else since * 1000
    return [raw.decode() for raw in rt.redis.zrevrangebyscore(index, "+inf", low, start=0,
                                                             num=limit)]
