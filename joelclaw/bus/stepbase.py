"""What every durable step shares: step keys, the memo, trace records, attempts and retries
of one execution, and the control-flow exceptions that leave the user's code.

Control flow leaves the user's code through `Suspend`/`MemberDone`/`Cancelled`, which derive from
BaseException so an `except Exception` in a function cannot swallow them.
"""

from __future__ import annotations

import json
import random
import re
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.nowait import Pending
from joelclaw.bus.runs import preview
from joelclaw.bus.scheduler import target_for
from joelclaw.errors import FunctionDefinitionError, NonRetriable, RetryAfter, StepError

if TYPE_CHECKING:
    from joelclaw.bus.functions import Function
    from joelclaw.bus.runs import Run
    from joelclaw.runtime import Runtime

STEP_ID_RE = re.compile(r"^[^|\[\]]{1,200}$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


class Suspend(BaseException):
    """Stop executing: the run continues when `wake_at` comes (or when something wakes it)."""

    def __init__(self, status: str, wake_at: float | None = None):
        super().__init__(status)
        self.status, self.wake_at = status, wake_at


class MemberDone(BaseException):
    """A parallel member finished its one callable; the replay stops there."""


class Cancelled(BaseException):
    """The run was cancelled; the step that was running has finished, nothing more runs."""


def seconds(duration: float | str | timedelta) -> float:
    """30, "30s", "5m", "2h", "7d", or a timedelta, in seconds."""
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    if isinstance(duration, int | float):
        return float(duration)
    match = DURATION_RE.match(duration)
    if not match:
        raise FunctionDefinitionError(f"invalid duration {duration!r}: use e.g. 30, '30s', '5m'")
    return float(match.group(1)) * UNITS[match.group(2)]


def error_record(exc: BaseException) -> dict[str, Any]:
    return {
        "name": type(exc).__name__,
        "message": str(exc),
        "stack": "".join(traceback.format_exception(exc))[-8000:],
    }


class StepBase:
    """Bookkeeping of one execution of a run; `Step` adds the step kinds users call."""


    def __init__(
        self,
        rt: Runtime,
        fn: Function,
        run: Run,
        *,
        memo: dict[str, Any],
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
        if "e" in record:
            err = record["e"]
            raise StepError(f"step {key!r} failed: {err['name']}: {err['message']}",
                            error_type=err["name"], step=key)
        return record.get("v")

    def _reload(self, key: str, kind: str) -> Any:
        raw = self.rt.redis.hget(keys.run_memo(self._run.id), key)
        self.memo[key] = json.loads(raw) if raw else {"v": None}
        failed = "e" in self.memo[key]
        self._trace_state(key, kind, "failed" if failed else "completed", ended_at=time.time(),
                          output=None if failed else preview(self.memo[key].get("v")))
        return self._unwrap(key)

    def _save(self, key: str, record: dict[str, Any]) -> None:
        self.memo[key] = record
        self.rt.redis.hset(keys.run_memo(self._run.id), key, json.dumps(record))

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
        commands: list[tuple[Any, ...]] = [
            ("HSET", keys.run_steps(self._run.id), key, json.dumps(record, default=str))]
        fields = self.take_run_fields()
        if fields:
            flat = [item for k, v in fields.items() for item in (k, json.dumps(v))]
            commands.append(("HSET", keys.run(self._run.id), *flat))
        return Pending(self.rt.redis, commands)

    def _write(self, key: str, record: dict[str, Any], *, memo: str | None = None,
               read_cancel: bool = False) -> None:
        """One round trip: the memo (first), the trace record, pending run fields."""
        pipe = self.rt.redis.pipeline(transaction=False)
        if memo is not None:
            pipe.hset(keys.run_memo(self._run.id), key, memo)
        pipe.hset(keys.run_steps(self._run.id), key, json.dumps(record, default=str))
        if self._run_fields:
            self.rt.runs.update(self._run.id, pipe=pipe, **self.take_run_fields())
        if read_cancel:
            pipe.hget(keys.run(self._run.id), "cancel_requested")
        replies = pipe.execute()
        if read_cancel:
            self._cancel_seen = replies[-1] == b"true"

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
            return self._fail(key, record, exc)
        except RetryAfter as exc:
            running.replies()
            return self._retry_or_fail(key, record, exc, attempt, delay=exc.seconds)
        except Exception as exc:  # any error of the user's code is retried, then recorded
            running.replies()
            return self._retry_or_fail(key, record, exc, attempt)
        except BaseException:
            running.replies()
            raise
        running.replies()
        try:
            encoded = json.dumps({"v": value})
        except (TypeError, ValueError) as exc:
            return self._fail(key, record, NonRetriable(f"step result is not JSON: {exc}"))
        self.memo[key] = {"v": value}
        ended = time.time()
        record.update(status="completed", ended_at=ended, output=preview(value),
                      execution_ms=round((ended - started) * 1000, 1), error=None)
        self._write(key, record, memo=encoded, read_cancel=True)
        return value

    def _retry_or_fail(
        self, key: str, record: dict[str, Any], exc: Exception, attempt: int,
        delay: float | None = None,
    ) -> Any:
        if attempt > self.retries:
            return self._fail(key, record, exc)
        wait = delay if delay is not None else backoff(self.rt, attempt)
        record.update(status="retrying", error=error_record(exc),
                      next_attempt_at=time.time() + wait, ended_at=time.time())
        self._write(key, record)
        raise Suspend("queued", time.time() + wait)

    def _fail(self, key: str, record: dict[str, Any], exc: BaseException) -> Any:
        err = error_record(exc)
        self.memo[key] = {"e": {"name": err["name"], "message": err["message"]}}
        record.update(status="failed", error=err, ended_at=time.time())
        self._write(key, record, memo=json.dumps(self.memo[key]))
        return self._unwrap(key)


def backoff(rt: Runtime, attempt: int) -> float:
    """Exponential back-off with full jitter, capped: 2 s, 4 s, 8 s ... (randomised)."""
    ceiling = min(rt.settings.retry_base_seconds * 2 ** (attempt - 1),
                  rt.settings.retry_max_seconds)
    return random.uniform(ceiling / 2, ceiling)


