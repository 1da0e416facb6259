"""Durable time, in one place: the wake-up set and the outbox, and everything that writes, counts
or reads them (SPEC §4: delays never use Celery ETA; due times live in Redis).

- wake-ups (`keys.WAKEUPS`): a target (a run, a parallel member, a flow timer) by the time it
  is due: durable sleeps, retries, wait deadlines, flow-control rechecks, debounce and batch
  timers. The sweeper claims what is due and publishes it.
- the outbox (`keys.OUTBOX`): a published target by its safety time; if no execution began by
  then, the sweeper publishes it again when its message is gone.

`schedule` (an earlier due time wins), `guard`, `forget` (a run that ended, or one whose
execution began, has no timers left), `pending` (the one count of "wake-ups pending" the CLI
and the dashboard show) and `due_next` are the Python side. Lua scripts that must change these
sets atomically with a run's record (dispatch, a lease's begin, the flow gate, pause, a claim)
get the keys from `SETS` here, so this module is the one place that says where durable time
lives; an architecture test holds the line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from joelclaw import keys

if TYPE_CHECKING:
    import redis

    from joelclaw.bus.records.scripts import Scripts


class Sets(NamedTuple):
    wakeups: str
    outbox: str


SETS = Sets(keys.WAKEUPS, keys.OUTBOX)
CLAIM_SECONDS = keys.WAKE_CLAIM_SECONDS


def schedule(pipe: Any, due: dict[str, float], *, earlier_only: bool = True) -> None:
    """Make each target runnable at its time; with `earlier_only` (the default) a pending
    earlier wake-up wins (ZADD LT). `pipe` is a client, a pipeline or a write batch."""
    if due:
        if earlier_only:
            pipe.zadd(SETS.wakeups, due, lt=True)
        else:
            pipe.zadd(SETS.wakeups, due)


def guard(pipe: Any, due: dict[str, float], *, earlier_only: bool = False) -> None:
    """Keep a safety entry for published targets: checked again at that time unless an
    execution begins first."""
    if due:
        if earlier_only:
            pipe.zadd(SETS.outbox, due, lt=True)
        else:
            pipe.zadd(SETS.outbox, due)


def forget(pipe: Any, *targets: str) -> None:
    """A run (or member) that ended or began executing: no wake-up or safety entry is left."""
    if targets:
        pipe.zrem(SETS.wakeups, *targets)
        pipe.zrem(SETS.outbox, *targets)


def times(client: redis.Redis, targets: list[str]) -> list[tuple[float | None, float | None]]:
    """Per target, its wake-up time and its safety (outbox) time, None where it has none."""
    pipe = client.pipeline(transaction=False)
    pipe.zmscore(SETS.wakeups, targets)
    pipe.zmscore(SETS.outbox, targets)
    woken, guarded = pipe.execute()
    return list(zip(woken, guarded, strict=True))


def pending(client: redis.Redis) -> int:
    """Wake-ups pending: every target with a due time the sweeper will act on (both sets)."""
    pipe = client.pipeline(transaction=False)
    pipe.zcard(SETS.wakeups)
    pipe.zcard(SETS.outbox)
    return sum(int(n) for n in pipe.execute())


def pending_by_set(client: redis.Redis) -> dict[str, int]:
    """`{"wakeup": n, "outbox": m}`: what `pending` counts, apart."""
    pipe = client.pipeline(transaction=False)
    pipe.zcard(SETS.wakeups)
    pipe.zcard(SETS.outbox)
    wakeup, outbox = pipe.execute()
    return {"wakeup": int(wakeup), "outbox": int(outbox)}


def due_next(client: redis.Redis, count: int, *, outbox: bool = False
             ) -> list[tuple[str, float]]:
    """The `count` targets due soonest, with their times (the wake-ups, or the outbox)."""
    if count <= 0:
        return []
    found = client.zrange(SETS.outbox if outbox else SETS.wakeups, 0, count - 1,
                          withscores=True)
    return [(member.decode(), float(score)) for member, score in found]


def due_of(client: redis.Redis, target: str) -> tuple[float | None, float | None]:
    """When `target` wakes (None: no wake-up) and when its safety check is (None: none)."""
    pipe = client.pipeline(transaction=False)
    pipe.zscore(SETS.wakeups, target)
    pipe.zscore(SETS.outbox, target)
    wake, check = pipe.execute()
    return (float(wake) if wake is not None else None,
            float(check) if check is not None else None)


def claim_due(scripts: Scripts, now: float, batch: int, *, outbox: bool = False,
              upto: float | None = None) -> tuple[dict[str, float], float]:
    """Claim what is due (pushed `CLAIM_SECONDS` ahead, so a claimer that dies before
    publishing does not lose it); returns the targets with their due times, and the claim.
    `upto`: claim what is due by then instead (a check ahead of time), "+inf" for all."""
    claim_until = now + CLAIM_SECONDS
    claimed = scripts.claim_due(keys=[SETS.outbox if outbox else SETS.wakeups],
                                args=[now if upto is None else upto, claim_until, batch])
    return ({claimed[i].decode(): float(claimed[i + 1]) for i in range(0, len(claimed), 2)},
            claim_until)


def settle(scripts: Scripts, target: str, claim_until: float, next_due: float | str, *,
           outbox: bool = False) -> None:
    """End a claim: remove the target (`next_due` "") or move it to `next_due`, unless someone
    scheduled it again meanwhile."""
    scripts.finish_claim(keys=[SETS.outbox if outbox else SETS.wakeups],
                         args=[target, claim_until, next_due])
