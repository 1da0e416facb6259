"""What every durable step shares: step keys, the memo, trace records, attempts and retries
of one execution, and the control-flow exceptions that leave the user's code.

Control flow leaves the user's code through `Suspend`/`MemberDone`/`Cancelled`, which derive from
BaseException so an `except Exception` in a function cannot swallow them.
"""

from __future__ import annotations

import re
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from joelclaw.backoff import exponential
from joelclaw.bus import metrics
from joelclaw.bus.memo import Done, Failed, Memo
from joelclaw.bus.memo import encode as encode_memo
from joelclaw.bus.nowait import Pending
from joelclaw.bus.preview import preview
from joelclaw.bus.publish import target_for
from joelclaw.config import Settings
from joelclaw.errors import FunctionDefinitionError, NonRetriable, RetryAfter

if TYPE_CHECKING:
    from joelclaw.bus.functions import Function
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.runs import Run

STEP_ID_RE = re.compile(r"^[^|\[\]]{1,200}$")


class Suspend(BaseException):
    """Stop executing: the run continues when `wake_at` comes (or when something wakes it)."""

    def __init__(self, status: str, wake_at: float | None = None):
        super().__init__(status)
        self.status, self.wake_at = status, wake_at


class MemberDone(BaseException):
    """A parallel member finished its one callable; the replay stops there."""


class Cancelled(BaseException):
    """The run was cancelled; the step that was running has finished, nothing more runs."""


def error_record(exc: BaseException) -> dict[str, Any]:
    return {
        "name": type(exc).__name__,
        "message": str(exc),
        "stack": "".join(traceback.format_exception(exc))[-8000:],
    }


def backoff(settings: Settings, attempt: int) -> float:
    """Exponential back-off with jitter, capped: up to 2 s, 4 s, 8 s ... (at least half)."""
    return exponential(attempt, base=settings.retry_base_seconds / 2,
                       cap=settings.retry_max_seconds, jitter=1.0)


class StepBase:
    """Bookkeeping of one execution of a run; `Step` adds the step kinds users call."""

    def __init__(
        self,
        rt: Bus,
        fn: Function,
        run: Run,
        *,
        memo: dict[str, Memo],
        trace: dict[str, dict[str, Any]],
        member: tuple[str, int] | None,
        queue_delay_ms: float,
        run_fields: dict[str, Any] | None = None,
    ):
        self.rt, self.fn, self._run = rt, fn, run
        self.memo, self.trace, self.member = memo, trace, member
        self.target = target_for(run.id, member)
        self._counts: dict[str, int] = {}
        self._queue_delay_ms = queue_delay_ms
        self._run_fields = dict(run_fields or {})  # written with the first trace write
        self._cancel_seen = run.cancel_requested
        self.retries = fn.retries if fn.retries is not None else rt.settings.default_retries

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

    def _reload(self, key: str, kind: str) -> Any:
        """Read back a result someone else stored (a resolved wait or invoke)."""
        self.memo[key] = self.rt.runs.memo_record(self._run.id, key) or Done(None)
        failed = isinstance(self.memo[key], Failed)
        self._trace_state(key, kind, "failed" if failed else "completed", ended_at=time.time(),
                          output=None if failed else preview(self._unwrap(key)))
        return self._unwrap(key)

    def _save(self, key: str, record: Memo) -> None:
        self.memo[key] = record
        self.rt.runs.save_memo(self._run.id, key, record)

    def _before_new_work(self, key: str) -> None:
        """A member replay never starts new steps; a cancelled run starts nothing new.

        The cancel flag is read with each step's final write, so this costs no round trip.
        """
        if self.member is not None:
            raise MemberDone()
        if self._cancel_seen:
            raise Cancelled()

    def _send_running(self, key: str, record: dict[str, Any]) -> Pending:
        """The "running" record goes out before the step runs; its reply is read after."""
        store = self.rt.runs
        commands: list[tuple[Any, ...]] = [store.step_command(self._run.id, key, record)]
        fields = self.take_run_fields()
        if fields:
            commands.append(store.fields_command(self._run.id, fields))
        return Pending(self.rt.redis, commands)

    def _write(self, key: str, record: dict[str, Any], *, result: str | None = None,
               read_cancel: bool = False, took: float | None = None) -> None:
        """One round trip: the memo record (first), the trace record, pending run fields and
        the step's duration metric."""
        store, run_id = self.rt.runs, self._run.id
        pipe = self.rt.redis.pipeline(transaction=False)
        if result is not None:
            store.save_memo(run_id, key, result, pipe=pipe)
        store.write_step(run_id, key, record, pipe=pipe)
        if took is not None:
            metrics.observe_step(pipe, self.fn.id, record.get("type", "run"), took)
        if self._run_fields:
            store.update(run_id, pipe=pipe, **self.take_run_fields())
        if read_cancel:
            store.read_cancel_requested(pipe, run_id)
        replies = pipe.execute()
        if read_cancel:
            self._cancel_seen = store.cancel_flag(replies[-1])

    def _trace_state(self, key: str, kind: str, status: str, **extra: Any) -> None:
        record = self.trace.setdefault(key, {"key": key, "type": kind, "attempts": 0})
        record.setdefault("started_at", time.time())
        record.update(status=status, **extra)
        self._write(key, record)

    def _take_queue_delay(self) -> float:
        delay, self._queue_delay_ms = self._queue_delay_ms, 0.0
        return delay

    def _execute(self, key: str, kind: str, call: Callable[[], Any]) -> Any:
        record = self.trace.setdefault(key, {"key": key, "type": kind, "attempts": 0})
        attempt = int(record.get("attempts", 0)) + 1
        if attempt > self.retries + 1:
            # Every allowed attempt started and none finished: the process died each time
            # (out of memory, killed). Stop here instead of crashing workers forever.
            lost = NonRetriable(f"step {key!r}: the worker died during all {attempt - 1} attempts")
            return self._fail(key, record, lost)
        started = time.time()
        record.update(status="running", attempts=attempt, attempt_started_at=started,
                      queue_delay_ms=round(self._take_queue_delay(), 1))
        record.setdefault("started_at", started)
        running = self._send_running(key, record)
        try:
            value = call()
        except NonRetriable as exc:
            running.replies()
            return self._fail(key, record, exc, started)
        except RetryAfter as exc:
            running.replies()
            return self._retry_or_fail(key, record, exc, attempt, started, delay=exc.seconds)
        except Exception as exc:  # any error of the user's code is retried, then recorded
            running.replies()
            return self._retry_or_fail(key, record, exc, attempt, started)
        except BaseException:
            running.replies()
            raise
        running.replies()
        done = Done(value)
        try:
            encoded = encode_memo(done)
        except (TypeError, ValueError) as exc:
            return self._fail(key, record, NonRetriable(f"step result is not JSON: {exc}"))
        self.memo[key] = done
        ended = time.time()
        record.update(status="completed", ended_at=ended, output=preview(value),
                      execution_ms=round((ended - started) * 1000, 1), error=None)
        self._write(key, record, result=encoded, read_cancel=True, took=ended - started)
        return value

    def _retry_or_fail(
        self, key: str, record: dict[str, Any], exc: Exception, attempt: int, started: float,
        delay: float | None = None,
    ) -> Any:
        if attempt > self.retries:
            return self._fail(key, record, exc, started)
        wait = delay if delay is not None else backoff(self.rt.settings, attempt)
        record.update(status="retrying", error=error_record(exc),
                      next_attempt_at=time.time() + wait, ended_at=time.time())
        self._write(key, record)
        raise Suspend("queued", time.time() + wait)

    def _fail(self, key: str, record: dict[str, Any], exc: BaseException,
              started: float | None = None) -> Any:
        """The step failed for good; `started` is when its last attempt began, if it ran."""
        err = error_record(exc)
        failed = Failed(err["name"], err["message"])
        self.memo[key] = failed
        ended = time.time()
        record.update(status="failed", error=err, ended_at=ended)
        took = ended - started if started is not None else None
        self._write(key, record, result=encode_memo(failed), took=took)
        return self._unwrap(key)
