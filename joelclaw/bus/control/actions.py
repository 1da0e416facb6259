"""Run control from outside a run: cancel (stored in Redis, so it survives worker restarts,
unlike Celery revokes), wake a sleeping run now, replay (a new run of the same function with
the same event), rerun from a failed step (earlier steps reused), and the same in bulk by
filter (joelclaw.bus.control.bulk)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.delivery import leases
from joelclaw.bus.delivery.outcomes import finish_cancelled
from joelclaw.bus.records.memo import Done, Sleeping
from joelclaw.bus.records.runs import TERMINAL, Run
from joelclaw.errors import JoelclawError, NotFound
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus


def _run_and_function(rt: Bus, run_id: str) -> tuple[Run, Function]:
    run = rt.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after the retention period)")
    fn = rt.function(run.function)
    if fn is None:
        raise JoelclawError(f"run {run_id} belongs to {run.function!r}, which is not loaded here")
    return run, fn


ACK_POLL_SECONDS = 0.005  # how often cancel_run looks for the executing process's answer
HOLDER_WAIT_LEASES = 3  # a holder that renews its lease but never answers: the longest wait


def cancel_run(rt: Bus, run_id: str, reason: str = "cancelled by request", *,
               wait: bool = True) -> Run:
    """Cancel now if the run is idle (queued, sleeping, waiting); else after its current step.

    A running run is stopped by the process executing it, which learns of the cancellation
    within `leases.CANCEL_POLL_SECONDS` (its steps read no cancel flag): this returns once that
    process acknowledged, so from then on the run starts no new step. A holder that never
    answers (its host died, or it is stuck) stops renewing its lease, so it is waited for until
    the lease lapses, and the run is cancelled here; a lease renewed by a holder that still
    does not answer is waited for at most `HOLDER_WAIT_LEASES` lease periods, the request then
    left for the run's next execution, which ends it cancelled as it begins. `wait=False` (a
    Celery signal handler, which must not hold the worker's event loop) records the request and
    returns: the holder still learns of it within the poll period.
    """
    run, fn = _run_and_function(rt, run_id)
    if run.status in TERMINAL:
        return run
    ttl = rt.settings.runs.lease_seconds
    deadline = time.monotonic() + HOLDER_WAIT_LEASES * ttl
    asked = False
    while True:
        lease = leases.acquire(rt.scripts, run_id, ttl)
        if lease is not None:  # idle, or its execution ended meanwhile: cancel it here
            rt.runs.request_cancel(run_id, reason)
            current = rt.runs.get(run_id)
            if current is not None and current.status not in TERMINAL:
                finish_cancelled(rt, fn, current, reason, lease=lease)
            else:
                lease.release()
            break
        if not asked:  # held: ask its holder (and any execution beginning after it)
            rt.redis.set(keys.cancel_ask(run_id), reason, ex=leases.ASK_TTL_SECONDS)
            asked = True
        answered = _holder_answered(rt, run_id, deadline) if wait else False
        if answered is not None:  # acknowledged (True), or no answer within a lease (False)
            rt.runs.request_cancel(run_id, reason)
            break
    return rt.runs.get(run_id) or run


def _holder_answered(rt: Bus, run_id: str, deadline: float) -> bool | None:
    """Wait for the execution holding the run to acknowledge its cancellation: True once it
    did, None once no live process holds the run (the caller takes the lease), False at the
    deadline."""
    ack_key, lease_key = keys.cancel_ack(run_id), keys.lease(run_id)
    while time.monotonic() < deadline:
        acked, holder = rt.redis.mget(ack_key, lease_key)
        if holder is None or leases.held_by_dead_local_process(holder):
            return None
        if acked is not None and acked == holder:
            return True
        time.sleep(ACK_POLL_SECONDS)
    return False


def wake_run(rt: Bus, run_id: str, by: str = "owner") -> dict[str, Any]:
    """End a durable sleep now: the sleeping step ends as if its time had come, its trace
    saying who woke it and when it would have woken. Only a sleeping run can be woken."""
    run, _fn = _run_and_function(rt, run_id)
    if run.status != "sleeping":
        raise JoelclawError(f"run {run_id} is {run.status}, not sleeping: only a sleeping run "
                            "can be woken")
    lease = leases.acquire(rt.scripts, run_id, rt.settings.runs.lease_seconds)
    if lease is None:
        raise JoelclawError(f"run {run_id} is waking up already (an execution holds it)")
    try:
        step = next((s for s in rt.runs.steps(run_id) if s.status == "sleeping"), None)
        record = rt.runs.memo_record(run_id, step.key) if step else None
        if rt.runs.status(run_id) != "sleeping" or step is None \
                or not isinstance(record, Sleeping):
            raise JoelclawError(f"run {run_id} is no longer sleeping")
        now = time.time()
        pipe = rt.redis.pipeline(transaction=True)
        rt.runs.save_memo(run_id, step.key, Sleeping(now), pipe=pipe)
        step.update(woken_by=by, woken_at=now, planned_until=record.until)
        rt.runs.write_step(run_id, step.key, step, pipe=pipe)
        pipe.execute()
    finally:
        lease.release()
        # Taking the lease dropped the run's wake-up: give it one now, woken or not (a run
        # that is not due just suspends again until its own time).
        rt.wake(run_id, time.time())
    return {"id": run_id, "step": step["key"], "woken_by": by, "woken_at": now,
            "planned_until": record.until}


def replay_run(rt: Bus, run_id: str) -> Run:
    """A new run of the same function for the same event; the original is untouched."""
    run, fn = _run_and_function(rt, run_id)
    event = Event.model_validate(run.event)
    result = rt.send([event], only=fn, trigger="replay", replay_of=run_id, skip_dedup=True)[0]
    new = rt.runs.get(result.runs[0])
    assert new is not None
    return new


def rerun_run(rt: Bus, run_id: str, from_step: str | None = None) -> Run:
    """A new run that reuses the results of the steps before the failed one (or `from_step`).

    The reused steps are copied into the new run's memo before it can execute, so they return
    their stored results instead of running again; the failed step and everything after it run.
    """
    run, fn = _run_and_function(rt, run_id)
    steps = rt.runs.steps(run_id)
    start = from_step or next((s.key for s in steps if s.status == "failed"), None)
    if start is None:
        raise JoelclawError(f"run {run_id} has no failed step; give the step to rerun from")
    boundary = next((s for s in steps if s.key == start), None)
    if boundary is None:
        raise NotFound(f"run {run_id} has no step {start!r}")
    memo = rt.runs.memo(run_id)
    before = [s for s in steps if (s.started_at or 0) < (boundary.started_at or 0)
              and isinstance(memo.get(s.key), Done)]
    for step in before:
        step.reused_from = run_id
    seed = {"memo": {s.key: memo[s.key] for s in before}, "steps": {s.key: s for s in before},
            "rerun_from": start}
    event = Event.model_validate(run.event)
    result = rt.send([event], only=fn, trigger="rerun", replay_of=run_id, skip_dedup=True,
                     seed=seed)[0]
    new = rt.runs.get(result.runs[0])
    assert new is not None
    return new
