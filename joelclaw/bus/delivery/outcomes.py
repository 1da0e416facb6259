"""How a run ends when it is cancelled, and how an invoked run hands its result to its parent.

Shared by the executor (a run cancelled at a step boundary, or found cancelled as it begins)
and run control (a cancel from outside, `cancel_on`, a singleton replaced), so both end a run
the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.delivery.leases import Lease, execute_releasing
from joelclaw.bus.delivery.publish import publish_now
from joelclaw.bus.functions.registry import CANCELLED_EVENT
from joelclaw.bus.records import metrics, wakeups
from joelclaw.bus.records.attempts import OPEN
from joelclaw.bus.records.memo import Failed, Memo
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records.runs import Run, StepTrace


def finish_cancelled(
    rt: Bus, fn: Function, run: Run, reason: str | None = None, lease: Lease | None = None,
    steps: Iterable[StepTrace] | None = None,
) -> None:
    """Record the cancellation, drop its wake-up and listeners, tell whoever waits on it.

    The reason is the one given with the request (`cancel_run`), unless the caller has it.
    A step the run was sleeping or waiting in ends "cancelled" in the same write (`steps`: the
    trace records, when the caller has them; read here otherwise)."""
    reason = reason or rt.runs.cancel_reason(run.id) or "cancelled"
    now = time.time()
    pipe = rt.redis.pipeline(transaction=True)
    rt.runs.update(run.id, pipe=pipe, status="cancelled", ended_at=now,
                   error={"name": "Cancelled", "message": reason})
    close_open_steps(rt, pipe, run.id, rt.runs.steps(run.id) if steps is None else steps,
                     "cancelled", now)
    metrics.run_ended(pipe, fn.id, "cancelled", created_at=run.created_at,
                      started_at=run.started_at, execution_ms=run.execution_ms)
    wakeups.forget(pipe, run.id)
    forget_listeners(pipe, fn, run)
    pipe.delete(keys.cancel_ask(run.id), keys.cancel_ack(run.id))
    if lease is None:
        pipe.execute()
    else:
        execute_releasing(pipe, lease)
    rt.send(Event(name=CANCELLED_EVENT, id=f"{run.id}-cancelled", data={
        "function_id": fn.id, "run_id": run.id, "event": run.event, "reason": reason,
    }))
    notify_parent(rt, run, Failed("Cancelled", f"{run.id} was cancelled"))


def close_open_steps(rt: Bus, pipe: Any, run_id: str, steps: Iterable[StepTrace],
                     status: str, now: float) -> None:
    """Steps still sleeping, waiting, running or retrying when their run ended end with it:
    a cancelled run's sleep is not "sleeping" any more, and no retry is coming. A step waiting
    for an event stops listening: no view lists the ended run as waiting, no event resumes it."""
    for record in steps:
        if record.status in OPEN:
            wait = record.get("wait")
            if record.status == "waiting" and isinstance(wait, dict) and wait.get("event"):
                pipe.hdel(keys.waits(wait["event"]), f"{run_id}|{record.key}")
            closed = record.model_copy(deep=True)
            closed.pop("next_attempt_at")
            closed.update(status=status, ended_at=now)
            rt.runs.write_step(run_id, record.key, closed, pipe=pipe)


def notify_parent(rt: Bus, run: Run, result: Memo) -> None:
    """An invoked run hands its result to the waiting parent step and wakes the parent."""
    if not run.parent:
        return
    parent, step_key = run.parent["run"], run.parent["step"]
    if rt.runs.resolve_invoke(parent, step_key, result, wake=True):
        publish_now(rt, parent)


def forget_listeners(pipe: Any, fn: Function, run: Run) -> None:
    """A finished run's cancel_on listeners are dropped with its final write."""
    for index, cancel in enumerate(fn.flow.cancel_on if fn.flow else ()):
        pipe.hdel(keys.waits(cancel.event), f"{run.id}|cancel:{index}")
