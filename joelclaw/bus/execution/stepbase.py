"""What every durable step shares: step keys, the memo, trace records, attempts and retries
of one execution, and the control-flow exceptions that leave the user's code.

Control flow leaves the user's code through `Suspend`/`MemberDone`/`Cancelled`, which derive from
BaseException so an `except Exception` in a function cannot swallow them.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from joelclaw.bus.delivery.publish import target_for
from joelclaw.bus.execution import stepnotes
from joelclaw.bus.execution.nowait import NoWait, WriteBatch, raise_errors
from joelclaw.bus.records import attempts, metrics
from joelclaw.bus.records.attempts import OPEN
from joelclaw.bus.records.memo import Done, Failed, Memo, trace_fields
from joelclaw.bus.records.memo import encode as encode_memo
from joelclaw.bus.records.previews import preview
from joelclaw.bus.records.runs import StepTrace
from joelclaw.durations.backoff import exponential
from joelclaw.errors import Defer, FunctionDefinitionError, NonRetriable, RetryAfter, StepInterrupt

if TYPE_CHECKING:
    from joelclaw.bus.delivery.leases import Lease
    from joelclaw.bus.execution.telemetry import Observed
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records.runs import Run
    from joelclaw.config import Settings

log = logging.getLogger("joelclaw.steps")
STEP_ID_RE = re.compile(r"^[^|\[\]]{1,200}$")
# Fields of a step record that describe its previous attempt, dropped when the next one starts.
_PREVIOUS_ATTEMPT = ("deferred", "next_attempt_at", "ended_at", "error", "execution_ms")


class Suspend(StepInterrupt):
    """Stop executing: the run continues when `wake_at` comes (or when something wakes it)."""

    def __init__(self, status: str, wake_at: float | None = None):
        super().__init__(status)
        self.status, self.wake_at = status, wake_at


class MemberDone(StepInterrupt):
    """A parallel member finished its one callable; the replay stops there."""


class Cancelled(StepInterrupt):
    """The run was cancelled; the step that was running has finished, nothing more runs.
    `reason`: the one the execution learned with the cancellation (None: read it from the run)."""

    def __init__(self, reason: str | None = None):
        super().__init__(reason or "cancelled")
        self.reason = reason


def error_record(exc: BaseException) -> dict[str, Any]:
    return {
        "name": type(exc).__name__,
        "message": str(exc),
        "stack": "".join(traceback.format_exception(exc))[-8000:],
    }


def backoff(settings: Settings, attempt: int) -> float:
    """Exponential back-off with jitter, capped: up to 2 s, 4 s, 8 s ... (at least half)."""
    return exponential(attempt, base=settings.runs.retry_base_seconds / 2,
                       cap=settings.runs.retry_max_seconds, jitter=1.0)


class StepBase:
    """Bookkeeping of one execution of a run; `Step` adds the step kinds users call."""

    def __init__(
        self,
        rt: Bus,
        fn: Function,
        run: Run,
        *,
        memo: dict[str, Memo],
        trace: dict[str, StepTrace],
        member: tuple[str, int] | None,
        queue_delay_ms: float,
        wire: NoWait,
        run_fields: dict[str, Any] | None = None,
        observed: Observed | None = None,
        worker: str | None = None,
        cancel_asked: Callable[[], str | None] | None = None,
        hold_first: Lease | None = None,
    ):
        self.rt, self.fn, self._run, self.wire = rt, fn, run, wire
        # The lease that holds back this execution's first "running" record (None: it goes out
        # at once, as when an execution of the run died holding its lease): see _start_first.
        self._hold_first = hold_first
        self._held_fields: dict[str, Any] | None = None  # run fields that went with it
        # The reason of a cancellation this execution's process learned of (its lease's), or
        # None: read before each new step, in memory (joelclaw.bus.delivery.leases).
        self._cancel_asked = cancel_asked or _never
        self.worker = worker  # the Celery node running this execution, shown per attempt
        self.observed = observed  # the telemetry port's view of this execution, if any
        self._unsent = WriteBatch()  # step writes that go out with the next step's start or the end
        self._timings: list[tuple[str, float]] = []  # (step type, seconds), counted at the end
        # Work that must wait until this execution gave its lease back (publishing a plain task
        # whose answer wakes the run: it must find the run free, not leased).
        self.after_release: list[Callable[[], None]] = []
        self.memo, self.trace, self.member = memo, trace, member
        self.target = target_for(run.id, member)
        self._counts: dict[str, int] = {}
        self._queue_delay_ms = queue_delay_ms
        self._run_fields = dict(run_fields or {})  # written with the first trace write
        self._cancel_seen = run.cancel_requested
        self.retries = fn.retries if fn.retries is not None else rt.settings.runs.default_retries
        self._effect: str = "write"  # the effect declared on the step kind being called

    def take_run_fields(self) -> dict[str, Any]:
        """Run fields not yet written (the executor adds them to its final write)."""
        fields, self._run_fields = self._run_fields, {}
        return fields

    # -- shared machinery -------------------------------------------------------------------

    def _key(self, step_id: str) -> str:
        if not STEP_ID_RE.match(step_id):
            raise FunctionDefinitionError(
                f"invalid step id {step_id!r}: 1-200 characters without '|', '[' or ']'"
            )
        count = self._counts.get(step_id, 0) + 1
        self._counts[step_id] = count
        return step_id if count == 1 else f"{step_id}:{count}"

    def _unwrap(self, key: str) -> Any:
        record = self.memo[key]
        if isinstance(record, Failed):
            raise record.error(key)
        return record.value if isinstance(record, Done) else None

    def _reload(self, key: str, kind: str, **extra: Any) -> Any:
        """Read back a result someone else stored (a resolved wait or invoke)."""
        self.memo[key] = self.rt.runs.memo_record(self._run.id, key) or Done(None)
        self._settle(key, kind, **extra)
        return self._unwrap(key)

    def _settle(self, key: str, kind: str, **extra: Any) -> None:
        """End a step in the trace with the result stored for it from outside (a matching
        event, an invoked run's answer, a timeout): the first replay that finds the result
        writes it, with the time it was stored and, for a wait, the event that matched."""
        record = self.memo[key]
        trace = self.trace.get(key)
        if self.member is not None or (trace is not None and trace.get("status") not in OPEN):
            return
        if not isinstance(record, Done | Failed):
            return
        status, fields = trace_fields(record, kind)
        self._trace_state(key, kind, status, ended_at=record.at or time.time(),
                          **{**extra, **fields})

    def _save(self, key: str, record: Memo) -> None:
        self.memo[key] = record
        self.rt.runs.save_memo(self._run.id, key, record)

    def _before_new_work(self, key: str, running: dict[str, Any] | None = None) -> None:
        """A member replay never starts new steps; a cancelled run starts nothing new.

        The cancellation is known in memory (the lease's renewer learns of it, and
        `cancel_run` waits until it did), so a step costs no read: the previous step's writes,
        still unsent, go out now with this step's "running" record (one HSET of the run's
        hash), and nobody waits for their reply. Replies are read in order later (at most
        `nowait.MAX_UNREAD` batches behind, and all of them by the execution's final write,
        which fails the execution if any write failed).
        """
        if self.member is not None:
            raise MemberDone()
        if self.rt.code.pending():  # a reload: this run continues on the new code, queued now
            raise Suspend("queued", time.time())
        reason = self._cancel_asked()
        if self._cancel_seen or reason is not None:
            self._cancel_seen = True
            raise Cancelled(reason)  # nothing of this step was written: it never started
        if not self._unsent:
            if running is not None:  # the first step of this execution
                self._start_first(key, running)
            return
        batch, self._unsent = self._unsent, WriteBatch()
        if running is not None:
            self.rt.runs.write_step(self._run.id, key, running, pipe=batch)
        fields = self.take_run_fields()
        if fields:
            self.rt.runs.update(self._run.id, pipe=batch, **fields)
        self.wire.send(batch)

    def flush_into(self, batch: WriteBatch) -> None:
        """Move the unsent step writes into the execution's final write, ahead of what that
        adds (`count_steps` adds this execution's step durations for the metrics after it)."""
        self._end_first()
        batch.extend(self._unsent)
        self._unsent = WriteBatch()

    def count_steps(self, batch: WriteBatch) -> None:
        """This execution's step durations, counted into the metrics with the final write."""
        metrics.observe_steps(batch, self.fn.id, self._timings)
        self._timings = []

    def confirm_written(self) -> None:
        """Send what is unsent and wait until every write so far is applied (errors raise)."""
        if self._unsent:
            batch, self._unsent = self._unsent, WriteBatch()
            raise_errors(self.wire.replies(self.wire.send(batch, keep=True)))
        self.wire.drain()

    def _start_first(self, key: str, record: dict[str, Any]) -> None:
        """The first step's "running" record (and the run's first fields): held by the lease,
        whose renewer writes it if the step still runs at its next look (within 50 ms); a
        step done sooner never shows "running", and its end writes what still matters (the
        run fields). That saves each execution a request to Redis.

        An execution that dies before the renewer wrote leaves no trace of the attempt, so a
        step that kills its process at once could run forever: the next begin learns that an
        execution died holding the lease (`Lease.clean`) and then writes the record at once,
        which counts every attempt from there on (one attempt more than `retries` at most)."""
        if self._hold_first is None:
            self._send_running(key, record)
            return
        fields = self._held_fields = self.take_run_fields()
        store, run_id = self.rt.runs, self._run.id

        def write(pipe: Any) -> None:
            store.write_step(run_id, key, record, pipe=pipe)
            if fields:
                store.update(run_id, pipe=pipe, **fields)

        self._hold_first.hold(write)

    def _end_first(self) -> None:
        """The first step ended: take its "running" record back; unsent, the run fields that
        went with it go with the next write."""
        fields, self._held_fields = self._held_fields, None
        if fields is not None and self._hold_first is not None and self._hold_first.take_back():
            self._run_fields = {**fields, **self._run_fields}

    def _send_running(self, key: str, record: dict[str, Any]) -> None:
        """The "running" record (and the run's first fields) go out, one HSET; nobody waits."""
        batch = WriteBatch()
        self.rt.runs.write_step(self._run.id, key, record, pipe=batch)
        fields = self.take_run_fields()
        if fields:
            self.rt.runs.update(self._run.id, pipe=batch, **fields)
        self.wire.send(batch)

    def _write(self, key: str, record: StepTrace, *, result: str | None = None,
               took: float | None = None) -> None:
        """Queue a step's writes: the memo record (first), the trace record and pending run
        fields. They go out with the next step's start, or with the execution's final write,
        on the execution's own connection (so in order)."""
        store, run_id, batch = self.rt.runs, self._run.id, self._unsent
        if result is not None:
            store.save_memo(run_id, key, result, pipe=batch)
        store.write_step(run_id, key, record, pipe=batch)
        if took is not None:
            self._timings.append((record.get("type", "run"), took))
        if self._run_fields:
            store.update(run_id, pipe=batch, **self.take_run_fields())

    def _trace_state(self, key: str, kind: str, status: str, **extra: Any) -> None:
        """A step kind that is not retried (sleep, wait, invoke, parallel, task, canvas): one
        attempt, started by this execution's worker."""
        record = self.trace.setdefault(key, StepTrace(key=key, type=kind, attempts=1))
        if "started_at" not in record:
            record.started_at = time.time()
        if "worker" not in record:
            record.worker = self.worker
        record.update(status=status, code_version=self.rt.code.version, **extra)
        self._write(key, record)

    def _take_queue_delay(self) -> float:
        delay, self._queue_delay_ms = self._queue_delay_ms, 0.0
        return delay

    def _execute(self, key: str, kind: str, call: Callable[[], Any], *,
                 new_work: bool = True, effect: str | None = None) -> Any:
        """Run one attempt of a step and record its outcome; `new_work` is False only for a
        parallel member running its own callable (whose replay is not new work)."""
        record = self.trace.setdefault(key, StepTrace(key=key, type=kind, attempts=0))
        if record.get("status") == "running":  # the last attempt's worker died during it
            attempts.push(record, attempts.entry(record, "lost", attempts.LOST, None))
        attempt = int(record.get("attempts", 0)) + 1
        if attempt > self.retries + 1:
            # Every allowed attempt started and none finished: the process died each time
            # (out of memory, killed). Stop here instead of crashing workers forever.
            if new_work:
                self._before_new_work(key)
            lost = NonRetriable(f"step {key!r}: the worker died during all {attempt - 1} attempts")
            return self._fail(key, record, lost)
        started = time.time()
        # What described the previous attempt (its end, error, the wait before this one) is
        # in its history entry now; a deferral (Defer) is over once the step runs again.
        current = {k: v for k, v in record.stored().items() if k not in _PREVIOUS_ATTEMPT}
        starting = {"status": "running", "attempts": attempt, "attempt_started_at": started,
                    "started_at": record.get("started_at", started),
                    "queue_delay_ms": round(self._queue_delay_ms, 1),
                    "code_version": self.rt.code.version, "worker": self.worker}
        if effect is not None:
            starting["effect"] = effect  # joelclaw.effects: what a shadow run may re-execute
        running = {**current, **starting}
        if new_work:
            self._before_new_work(key, running)  # may raise Cancelled: nothing was started
        else:
            self._send_running(key, running)
        self._take_queue_delay()
        for stale in _PREVIOUS_ATTEMPT:
            record.pop(stale, None)
        record.update(starting)  # the record holds `current` already: `running`, now
        note = stepnotes.StepNote(self.rt, self._run.id, self.fn.id, key,
                                  dict(record.get("llm") or {}),
                                  event_id=str(self._run.event.get("id") or ""))
        try:
            with stepnotes.noting(note, record):
                try:
                    value = call()
                finally:
                    self._end_first()
        except NonRetriable as exc:
            return self._fail(key, record, exc, started)
        except RetryAfter as exc:
            return self._retry_or_fail(key, record, exc, attempt, started, delay=exc.seconds)
        except Exception as exc:  # any error of the user's code is retried, then recorded
            return self._retry_or_fail(key, record, exc, attempt, started)
        done = Done(value)
        try:
            encoded = encode_memo(done)
        except (TypeError, ValueError) as exc:
            return self._fail(key, record, NonRetriable(f"step result is not JSON: {exc}"))
        self.memo[key] = done
        ended = time.time()
        record.update(status="completed", ended_at=ended, output=preview(value),
                      execution_ms=round((ended - started) * 1000, 1), error=None)
        self._write(key, record, result=encoded, took=ended - started)
        if self.observed is not None:
            self.observed.step(record)
        return value

    def _retry_or_fail(
        self, key: str, record: StepTrace, exc: Exception, attempt: int, started: float,
        delay: float | None = None,
    ) -> Any:
        deferred = isinstance(exc, Defer)  # waits without spending an attempt
        if attempt > self.retries and not deferred:
            return self._fail(key, record, exc, started)
        wait = delay if delay is not None else backoff(self.rt.settings, attempt)
        ended, error = time.time(), error_record(exc)
        record.update(status="retrying", error=error, next_attempt_at=ended + wait,
                      ended_at=ended, execution_ms=round((ended - started) * 1000, 1))
        if deferred:
            record.update(deferred=str(exc), attempts=attempt - 1)
        else:
            attempts.push(record, attempts.entry(record, "failed", error, ended))
            log.warning("run %s (%s): step %r attempt %d of %d failed, next in %.1fs: %s: %s",
                        self._run.id, self.fn.id, key, attempt, self.retries + 1, wait,
                        error["name"], error["message"])
        self._write(key, record)
        if self.observed is not None:
            self.observed.step(record)
        raise Suspend("queued", time.time() + wait)

    def _fail(self, key: str, record: StepTrace, exc: BaseException,
              started: float | None = None) -> Any:
        """The step failed for good; `started` is when its last attempt began, if it ran."""
        err = error_record(exc)
        failed = Failed(err["name"], err["message"])
        self.memo[key] = failed
        ended = time.time()
        record.pop("next_attempt_at", None)
        record.update(status="failed", error=err, ended_at=ended)
        if started is not None:
            record["execution_ms"] = round((ended - started) * 1000, 1)
        took = ended - started if started is not None else None
        self._write(key, record, result=encode_memo(failed), took=took)
        log.error("run %s (%s): step %r failed for good after %s attempt(s): %s: %s",
                  self._run.id, self.fn.id, key, record.get("attempts"), err["name"],
                  err["message"])
        if self.observed is not None:
            self.observed.step(record)
        return self._unwrap(key)


def _never() -> str | None:
    """No cancellation to learn of (an execution without a lease keeper, such as a test's)."""
    return None
