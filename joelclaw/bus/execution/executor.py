"""Executing one run (or one parallel member) under its lease: the body of every function task.

Each execution replays the function with its memoized steps, runs new steps until the function
returns, suspends (sleep, wait, retry back-off) or fails, and records the outcome. Duplicate
deliveries are harmless: a run that is finished is left alone, and one leased by a live worker is
retried a second later instead of being run twice.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

import redis

from joelclaw import keys
from joelclaw.bus.control import pausing as pause
from joelclaw.bus.delivery import leases
from joelclaw.bus.delivery.outcomes import finish_cancelled, forget_listeners, notify_parent
from joelclaw.bus.delivery.publish import target_for
from joelclaw.bus.execution import telemetry
from joelclaw.bus.execution.context import Context
from joelclaw.bus.execution.nowait import NoWait, WriteBatch, raise_errors
from joelclaw.bus.execution.stepbase import Cancelled, MemberDone, Suspend, backoff, error_record
from joelclaw.bus.execution.steps import Step, Steps
from joelclaw.bus.flow import gate
from joelclaw.bus.functions.registry import FAILED_EVENT
from joelclaw.bus.records import metrics, wakeups
from joelclaw.bus.records.attempts import EARLIER_STACK_CHARS
from joelclaw.bus.records.memo import Done, Failed
from joelclaw.bus.records.runs import HISTORY_KEEP, TERMINAL, Run
from joelclaw.errors import Defer, EventError, NonRetriable, RetryAfter, RunFailed, StepError
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.executor")
_WORKER = f"{socket.gethostname()}:{os.getpid()}"  # outside a Celery task (tests, scripts)


def execute(
    rt: Bus,
    fn: Function,
    run_id: str,
    *,
    member: tuple[str, int] | None = None,
    ready_at: float | None = None,
    worker: str | None = None,
    raise_failure: bool = False,
) -> str:
    """Execute once; returns what happened (for logs and tests).

    `worker` names the Celery node, recorded with each attempt and execution. With
    `raise_failure` (the function's Celery task), a run that failed for good raises RunFailed
    once everything is recorded and the lease released, so Celery counts the task as failed.
    """
    started = time.time()
    target = target_for(run_id, member)
    # The execution's own connection: the begin script, the step writes and the final write
    # all travel on it (one connection taken from the pool per execution, not one per call).
    wire = NoWait(rt.redis)
    try:
        outcome, execution = _begin_and_run(rt, fn, run_id, target, member, started, ready_at,
                                            wire, worker)
    finally:
        wire.close()
    if outcome == "failed" and raise_failure and execution is not None \
            and execution.error is not None:
        raise RunFailed(run_id, fn.id, execution.error)
    return outcome


def _begin_and_run(rt: Bus, fn: Function, run_id: str, target: str,
                   member: tuple[str, int] | None, started: float, ready_at: float | None,
                   wire: NoWait, worker: str | None) -> tuple[str, _Execution | None]:
    """Take the lease, then run the function unless the run is done, cancelled, paused or
    held by flow control; what happened, and the execution if the function ran."""
    lease, state = leases.begin(rt.scripts, run_id, target, rt.settings.runs.lease_seconds,
                                call=lambda k, a: _script(rt.scripts.begin, wire, k, a))
    if lease is None:
        rt.wake(target, started + keys.LEASE_DEFER_SECONDS)
        return "deferred", None
    loaded = rt.runs.loaded(state)
    run = loaded.run
    if run is None or run.status in TERMINAL:
        lease.release()
        if run is None:
            # The message may have overtaken its run's creation (see bus.dispatch): look again
            # shortly. A run that is gone for good is dropped when that wake-up finds nothing.
            rt.wake(target, started + keys.LEASE_DEFER_SECONDS)
        return (run.status if run else "missing"), None
    if member is None and run.cancel_requested:
        finish_cancelled(rt, fn, run, lease=lease, steps=loaded.trace.values())
        return "cancelled", None
    if member is None and lease.paused and pause.park(rt, run, lease):
        return "paused", None
    entry = None
    if member is None and fn.flow is not None and fn.flow.gated:
        entry = gate.enter(rt, fn, run, lease)
        if entry.outcome:
            return entry.outcome, None
    elif member is None and run.held is not None:  # parked by a pause, now going on
        entry = gate.Entry(fields=gate.released(run))
    with lease.kept_alive():
        execution = _Execution(rt, fn, run, member, lease, loaded, started,
                               ready_at or started, entry, wire, worker or _WORKER)
        return execution.execute(), execution


def _script(script: Any, wire: NoWait, script_keys: list[str], args: list[Any]) -> Any:
    """A script's reply, sent on the execution's connection (raw EVALSHA: redis-py's Script
    would take a connection of its own); loaded and run again if Redis lost its scripts."""
    call = WriteBatch()
    call.evalsha(script.sha, len(script_keys), *script_keys, *args)
    try:
        reply = wire.replies(wire.send(call, keep=True))[0]
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
        # The client's own retries take over (the connection was dropped). Run twice, the
        # begin script finds the lease held by this process and the execution defers.
        return script(keys=script_keys, args=args)
    if _missing_script(reply):  # Redis restarted and lost its scripts
        return script(keys=script_keys, args=args)
    if isinstance(reply, Exception):
        raise reply
    return reply


class _Execution:
    """One pass over the function, ending in exactly one final write batched with the release."""

    def __init__(self, rt: Bus, fn: Function, run: Run, member: tuple[str, int] | None,
                 lease: leases.Lease, loaded: Any, started: float, ready_at: float,
                 entry: gate.Entry | None, wire: NoWait, worker: str):
        self.rt, self.fn, self.run, self.member, self.lease = rt, fn, run, member, lease
        self.wire, self.worker, self.started = wire, worker, started
        self.error: dict[str, Any] | None = None  # the run's error when it failed for good
        self.slots = entry.slots if entry is not None else None
        delay_ms = max(0.0, (started - ready_at) * 1000)
        start_fields: dict[str, Any] = {}
        if member is None:
            start_fields = {"status": "running", "started_at": run.started_at or started,
                            "executions": run.executions + 1,
                            "queue_delay_ms": run.queue_delay_ms + delay_ms,
                            **(entry.fields if entry is not None else {})}
        self.observed = telemetry.observe(rt, fn.id, run, member, started)
        self.steps = Steps(rt, fn, run, memo=loaded.memo, trace=loaded.trace, member=member,
                           queue_delay_ms=delay_ms, wire=wire, run_fields=start_fields,
                           observed=self.observed, worker=worker,
                           cancel_asked=lambda: lease.cancel_reason,
                           hold_first=lease if member is None and lease.clean else None)
        self.clock = time.perf_counter()

    def spent(self) -> float:
        return self.run.execution_ms + (time.perf_counter() - self.clock) * 1000

    def finish(self, wake_at: float | None = None, *, outcome: str | None = None,
               **fields: Any) -> None:
        """The run's last write of this execution, its next wake-up and the lease release,
        in one script (a transaction when flow slots go back too) whose reply also confirms
        every step write before it.

        Concurrency slots (flow control) are given back and, when the run ends, its metrics
        counted, in the same transaction. `outcome` tells the telemetry observer a status this
        write does not carry (a cancellation is recorded after it).
        """
        batch = WriteBatch()
        self.steps.flush_into(batch)
        merged: dict[str, Any] = {}
        if self.member is None:
            merged = {**self.steps.take_run_fields(), **fields, "execution_ms": self.spent(),
                      "history": self._history(outcome or fields.get("status"),
                                               fields.get("error"))}
            self.rt.runs.update(self.run.id, pipe=batch, **merged)
        self.steps.count_steps(batch)
        if self.member is None and fields.get("status") in TERMINAL:
            forget_listeners(batch, self.fn, self.run)
            metrics.run_ended(batch, self.fn.id, fields["status"],
                              created_at=self.run.created_at,
                              started_at=self.run.started_at or self.started,
                              execution_ms=merged["execution_ms"])
        if wake_at is not None:
            wakeups.schedule(batch, {self.steps.target: wake_at})
        if self.slots is None:
            self._commit(*self.lease.finish_with(batch.commands))
        else:
            self._commit_transaction(batch)
        if self.observed is not None:
            status = outcome or fields.get("status")
            self.observed.end(status if self.member is None else None,
                              {**fields, "execution_ms": self.spent()})

    def _commit(self, lease_keys: list[str], args: list[Any]) -> None:
        """The final write and the release as one script (no flow slots to give back)."""
        call = WriteBatch()
        call.evalsha(self.rt.scripts.lease_finish.sha, len(lease_keys), *lease_keys, *args)
        reply = self.wire.replies(self.wire.send(call, keep=True))[0]
        if _missing_script(reply):  # Redis restarted and lost its scripts
            reply = self.rt.scripts.lease_finish(keys=lease_keys, args=args)
        raise_errors([reply])
        if reply[1]:
            raise redis.exceptions.ResponseError(_text(reply[1][0]))
        self._after_release()

    def _commit_transaction(self, batch: WriteBatch) -> None:
        """The final write, the flow slots' release and the lease's, in one transaction."""
        flow_index = None
        if self.slots is not None:
            slot_keys, slot_args = self.slots.release_args()
            flow_index = len(batch)
            batch.evalsha(self.rt.scripts.flow_release.sha, len(slot_keys), *slot_keys,
                          *slot_args)
        release_index = len(batch)
        self.lease.release(batch)
        replies = self.wire.replies(self.wire.send(batch, transaction=True, keep=True))
        if _missing_script(replies[release_index]):  # Redis restarted and lost its scripts
            self.lease.release()
        woken = None
        if flow_index is not None:
            woken = replies[flow_index]
            if _missing_script(woken):
                woken = self.rt.scripts.flow_release(keys=slot_keys, args=slot_args)
        raise_errors([r for r in replies if not _missing_script(r)])
        self._after_release()
        if woken:
            gate.publish_woken(self.rt, woken)

    def _history(self, outcome: str | None, error: dict[str, Any] | None) -> list[dict[str, Any]]:
        """The run's executions with this one added (the newest HISTORY_KEEP): written with the
        execution's final write, so it costs no round trip of its own."""
        item: dict[str, Any] = {"n": self.run.executions + 1, "started_at": self.started,
                                "ended_at": time.time(), "worker": self.worker,
                                "outcome": outcome or "unknown"}
        if error:
            item["error"] = {"name": error.get("name"), "message": error.get("message"),
                             "stack": (error.get("stack") or "")[-EARLIER_STACK_CHARS:]}
            if error.get("deferred"):
                item["outcome"] = "deferred"
            elif outcome == "queued":
                item["outcome"] = "retrying"
        return [*self.run.history, item][-HISTORY_KEEP:]

    def _after_release(self) -> None:
        """What a step left for after the lease (plain tasks it publishes); a failure here is
        repaired by the run's safety wake-up, which replays the step."""
        work, self.steps.after_release = self.steps.after_release, []
        for call in work:
            try:
                call()
            except Exception:
                log.warning("run %s: work after the execution failed; its safety wake-up "
                            "retries it", self.run.id, exc_info=True)

    def context(self) -> Context[Any]:
        rt, fn, run = self.rt, self.fn, self.run
        try:
            event = Event.model_validate(run.event)
            batch = [Event.model_validate(e) for e in run.batch] if run.batch else None
        except (EventError, ValueError) as exc:
            raise NonRetriable(f"the run's stored event no longer fits its payload model: "
                               f"{exc}") from None
        return Context(event=event, step=Step(self.steps), run_id=run.id, attempt=run.attempts,
                       function_id=fn.id, _runtime=rt,
                       log=logging.getLogger(f"joelclaw.fn.{fn.id}"), batch=batch)

    def execute(self) -> str:
        run, member = self.run, self.member
        try:
            output = self.fn.handler(self.context())
            _require_json(output)
        except MemberDone:
            self.finish()
            return "member-done"
        except Suspend as suspend:
            self.finish(wake_at=suspend.wake_at, status=suspend.status)
            return suspend.status
        except Cancelled as cancelled:
            self.finish(outcome="cancelled")
            ran = run.model_copy(update={"started_at": run.started_at or self.started,
                                         "execution_ms": self.spent()})
            finish_cancelled(self.rt, self.fn, ran, cancelled.reason,
                             steps=self.steps.trace.values())
            return "cancelled"
        except (StepError, NonRetriable) as exc:
            return self.fail(exc)
        except Defer as exc:
            return self.defer(exc)
        except RetryAfter as exc:
            return self.retry(exc, exc.seconds)
        except Exception as exc:
            return self.retry(exc, None)
        if member is not None:
            self.finish()
            return "member-done"
        self.finish(status="completed", output=output, ended_at=time.time(), error=None)
        notify_parent(self.rt, run, Done(output))
        return "completed"

    def retry(self, exc: BaseException, delay: float | None) -> str:
        """An error outside any step retries the whole function on its own counter."""
        fn, run = self.fn, self.run
        retries = fn.retries if fn.retries is not None else self.rt.settings.runs.default_retries
        if self.member is not None or run.attempts + 1 > retries:
            return self.fail(exc)
        wait = delay if delay is not None else backoff(self.rt.settings, run.attempts + 1)
        self.finish(wake_at=time.time() + wait, status="queued", attempts=run.attempts + 1,
                    error={**error_record(exc), "next_attempt_at": time.time() + wait})
        return "retrying"

    def defer(self, exc: Defer) -> str:
        """Wait outside any step without spending an attempt (the reason shows in explain)."""
        if self.member is not None:
            return self.fail(exc)
        at = time.time() + exc.seconds
        self.finish(wake_at=at, status="queued",
                    error={**error_record(exc), "next_attempt_at": at, "deferred": str(exc)})
        return "deferred"

    def fail(self, exc: BaseException) -> str:
        if self.member is not None:
            log.warning("parallel member %s of %s failed outside its step: %s",
                        self.member, self.run.id, exc)
            self.finish()
            return "member-failed"
        error = self.error = error_record(exc)
        self.finish(status="failed", error=error, ended_at=time.time())
        run = self.run
        self.rt.send(Event(name=FAILED_EVENT, id=f"{run.id}-failed", data={
            "function_id": self.fn.id, "run_id": run.id, "event": run.event,
            "error": {"name": error["name"], "message": error["message"],
                      "stack": error["stack"]},
        }))
        notify_parent(self.rt, run, Failed(error["name"], error["message"]))
        return "failed"


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _missing_script(reply: Any) -> bool:
    return isinstance(reply, redis.exceptions.NoScriptError)


def _require_json(output: Any) -> None:
    try:
        json.dumps(output)
    except (TypeError, ValueError) as exc:
        raise NonRetriable(f"the function returned a value that is not JSON: {exc}") from None
