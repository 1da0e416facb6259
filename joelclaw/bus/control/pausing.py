"""Pausing a function: its runs queue but do not start until it is resumed.

A pause is a field of `jc:paused` (who paused it, when, why), so it holds across workers and
restarts. Every execution of a run checks it when it takes its lease (the lease script reads it,
no extra round trip) and, while the function is paused, parks the run instead of executing it:
status `queued`, a `held` record of kind `paused` (shown by `explain`), its id in the function's
parked line (in order of creation). Events, crons and wake-ups keep creating and waking runs as
usual, so crons keep their schedule and waits keep their place; the runs simply wait in line.
Resuming forgets the pause and publishes the parked runs oldest first.

Parking re-checks the pause in the same script that parks (a resume in between is never
missed), and a resume gives every parked run a safety wake-up before publishing it.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.records import wakeups
from joelclaw.errors import NotFound

if TYPE_CHECKING:
    from joelclaw.bus.delivery.leases import Lease
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records.runs import Run

HELD_KIND = "paused"
MAX_REASON = 500


def paused(rt: Bus) -> dict[str, dict[str, Any]]:
    """Every paused function: {function id: {at, by, reason, parked}}."""
    raw = rt.redis.hgetall(keys.PAUSED)
    if not raw:
        return {}
    ids = sorted(k.decode() for k in raw)
    pipe = rt.redis.pipeline(transaction=False)
    for fn_id in ids:
        pipe.zcard(keys.paused_runs(fn_id))
    counts = pipe.execute()
    return {fn_id: {**json.loads(raw[fn_id.encode()]), "parked": int(n)}
            for fn_id, n in zip(ids, counts, strict=True)}


def pause_of(rt: Bus, function_id: str) -> dict[str, Any] | None:
    raw = rt.redis.hget(keys.PAUSED, function_id)
    if raw is None:
        return None
    return {**json.loads(raw), "parked": int(rt.redis.zcard(keys.paused_runs(function_id)))}


def _known(rt: Bus, function_id: str) -> None:
    if rt.function(function_id) is None:
        raise NotFound(f"no function with id {function_id!r} (see `joelclaw functions`)")


def pause(rt: Bus, function_id: str, *, by: str, reason: str | None = None) -> dict[str, Any]:
    """Pause (again: the first pause's time and author are kept); returns the pause."""
    _known(rt, function_id)
    record = {"at": time.time(), "by": by, "reason": (reason or "")[:MAX_REASON] or None}
    rt.redis.hsetnx(keys.PAUSED, function_id, json.dumps(record))
    found = pause_of(rt, function_id)
    assert found is not None
    return {"function": function_id, "paused": True, **found}


def resume(rt: Bus, function_id: str) -> dict[str, Any]:
    """Forget the pause and start the parked runs, oldest first."""
    _known(rt, function_id)
    safety = time.time() + rt.settings.runs.outbox_grace_seconds
    was, parked = rt.scripts.resume(keys=[keys.PAUSED, keys.paused_runs(function_id),
                                          wakeups.SETS.outbox], args=[function_id, safety])
    started = [raw.decode() for raw in parked]
    for run_id in started:
        try:
            rt.publish(run_id)
        except Exception:  # broker down: each run's safety wake-up publishes it
            break
    return {"function": function_id, "paused": False, "was_paused": bool(was),
            "released": len(started), "runs": started}


def park(rt: Bus, run: Run, lease: Lease) -> bool:
    """Park this run if its function is still paused (True); else the caller executes it."""
    raw = rt.redis.hget(keys.PAUSED, run.function)
    info = json.loads(raw) if raw else {}
    previous = run.held or {}
    since = previous.get("since") if previous.get("kind") == HELD_KIND else None
    held = {"kind": HELD_KIND, "by": info.get("by"), "paused_at": info.get("at"),
            "reason": info.get("reason"), "since": since or time.time()}
    parked = rt.scripts.pause_park(
        keys=[keys.PAUSED, keys.paused_runs(run.function), keys.run(run.id),
              keys.lease(lease.target), keys.LEASES],
        args=[run.function, run.id, run.created_at, json.dumps(held), lease.token])
    return bool(parked)
