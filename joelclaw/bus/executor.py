"""Executing one run (or one parallel member) under its lease: the body of every function task.

Each execution replays the function with its memoized steps, runs new steps until the function
returns, suspends (sleep, wait, retry back-off) or fails, and records the outcome. Duplicate
deliveries are harmless: a run that is finished is left alone, and one leased by a live worker is
retried a second later instead of being run twice.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus import leases
from joelclaw.bus.functions import CANCELLED_EVENT, FAILED_EVENT
from joelclaw.bus.runs import TERMINAL, Run
from joelclaw.bus.scheduler import target_for
from joelclaw.bus.steps import Cancelled, MemberDone, Step, Suspend, backoff, error_record
from joelclaw.errors import NonRetriable, RetryAfter, StepError
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.functions import Function
    from joelclaw.runtime import Runtime

log = logging.getLogger("joelclaw.executor")


@dataclass
class Context:
    """What a function receives: the triggering event, the durable `step` API, and its run."""

    event: Event
    step: Step
    run_id: str
    attempt: int
    function_id: str
    runtime: Runtime
    log: logging.Logger

    @property
    def events(self) -> list[Event]:
        return [self.event]


def execute(
    rt: Runtime,
    fn: Function,
    run_id: str,
    *,
    member: tuple[str, int] | None = None,
    ready_at: float | None = None,
) -> str:
    """Execute once; returns what happened (for logs and tests)."""
    started = time.time()
    run = rt.runs.get(run_id)
    if run is None:
        return "missing"
    if run.status in TERMINAL:
        return run.status
    target = target_for(run_id, member)
    lease = leases.acquire(rt.scripts, target, rt.settings.run_lease_seconds)
    if lease is None:
        rt.wake(target, started + keys.LEASE_DEFER_SECONDS)
        return "deferred"
    try:
        rt.redis.zrem(keys.WAKEUPS, target)
        run = rt.runs.get(run_id)
        if run is None or run.status in TERMINAL:
            return run.status if run else "missing"
        if member is None and run.cancel_requested:
            finish_cancelled(rt, fn, run)
            return "cancelled"
        with lease.kept_alive():
            return _execute_leased(rt, fn, run, member, started, ready_at or started)
    finally:
        lease.release()


def _execute_leased(
    rt: Runtime, fn: Function, run: Run, member: tuple[str, int] | None,
    started: float, ready_at: float,
) -> str:
    delay_ms = max(0.0, (started - ready_at) * 1000)
    if member is None:
        rt.runs.update(
            run.id, status="running", started_at=run.started_at or started,
            executions=run.executions + 1, queue_delay_ms=run.queue_delay_ms + delay_ms,
        )
    trace = {s["key"]: s for s in rt.runs.steps(run.id)}
    step = Step(rt, fn, run, memo=rt.runs.memo(run.id), trace=trace, member=member,
                queue_delay_ms=delay_ms)
    ctx = Context(event=Event.model_validate(run.event), step=step, run_id=run.id,
                  attempt=run.attempts, function_id=fn.id, runtime=rt,
                  log=logging.getLogger(f"joelclaw.fn.{fn.id}"))
    clock = time.perf_counter()

    def spent() -> float:
        return run.execution_ms + (time.perf_counter() - clock) * 1000

    try:
        output = fn.handler(ctx)
        _require_json(output)
    except MemberDone:
        return "member-done"
    except Suspend as suspend:
        if suspend.wake_at is not None:
            rt.wake(step.target, suspend.wake_at)
        if member is None:
            rt.runs.update(run.id, status=suspend.status, execution_ms=spent())
        return suspend.status
    except Cancelled:
        finish_cancelled(rt, fn, run)
        return "cancelled"
    except (StepError, NonRetriable) as exc:
        return _member_or_fail(rt, fn, run, member, exc, spent())
    except RetryAfter as exc:
        return _retry_function(rt, fn, run, member, exc, spent(), exc.seconds)
    except Exception as exc:
        return _retry_function(rt, fn, run, member, exc, spent(), None)
    if member is not None:
        return "member-done"
    rt.runs.update(run.id, status="completed", output=output, ended_at=time.time(),
                   execution_ms=spent(), error=None)
    _notify_parent(rt, run, {"v": output})
    return "completed"


def _retry_function(
    rt: Runtime, fn: Function, run: Run, member: tuple[str, int] | None,
    exc: BaseException, spent: float, delay: float | None,
) -> str:
    """An error outside any step retries the whole function on its own counter."""
    retries = fn.retries if fn.retries is not None else rt.settings.default_retries
    if member is not None or run.attempts + 1 > retries:
        return _member_or_fail(rt, fn, run, member, exc, spent)
    wait = delay if delay is not None else backoff(rt, run.attempts + 1)
    rt.runs.update(run.id, status="queued", attempts=run.attempts + 1, execution_ms=spent,
                   error={**error_record(exc), "next_attempt_at": time.time() + wait})
    rt.wake(run.id, time.time() + wait)
    return "retrying"


def _member_or_fail(
    rt: Runtime, fn: Function, run: Run, member: tuple[str, int] | None,
    exc: BaseException, spent: float,
) -> str:
    if member is not None:
        log.warning("parallel member %s of %s failed outside its step: %s", member, run.id, exc)
        return "member-failed"
    error = error_record(exc)
    rt.runs.update(run.id, status="failed", error=error, ended_at=time.time(), execution_ms=spent)
    rt.send(Event(name=FAILED_EVENT, id=f"{run.id}-failed", data={
        "function_id": fn.id, "run_id": run.id, "event": run.event,
        "error": {"name": error["name"], "message": error["message"], "stack": error["stack"]},
    }))
    _notify_parent(rt, run, {"e": {"name": error["name"], "message": error["message"]}})
    return "failed"


def finish_cancelled(rt: Runtime, fn: Function, run: Run, reason: str = "cancelled") -> None:
    rt.runs.update(run.id, status="cancelled", ended_at=time.time(),
                   error={"name": "Cancelled", "message": reason})
    rt.redis.zrem(keys.WAKEUPS, run.id)
    rt.send(Event(name=CANCELLED_EVENT, id=f"{run.id}-cancelled", data={
        "function_id": fn.id, "run_id": run.id, "event": run.event, "reason": reason,
    }))
    _notify_parent(rt, run, {"e": {"name": "Cancelled", "message": f"{run.id} was cancelled"}})


def _notify_parent(rt: Runtime, run: Run, result: dict[str, Any]) -> None:
    """An invoked run hands its result to the waiting parent step and wakes the parent."""
    if not run.parent:
        return
    parent, step_key = run.parent["run"], run.parent["step"]
    won = rt.scripts.resolve(
        keys=[keys.run_pending(parent), keys.run_memo(parent), keys.WAKEUPS],
        args=[step_key, step_key, json.dumps(result), time.time(), parent],
    )
    if won:
        rt.publish(parent)


def _require_json(output: Any) -> None:
    try:
        json.dumps(output)
    except (TypeError, ValueError) as exc:
        raise NonRetriable(f"the function returned a value that is not JSON: {exc}") from None
