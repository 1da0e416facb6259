"""Durable steps. A function is replayed from the top on every execution; each step looks up its
memoized result first, so completed work is returned, not redone, and the run resumes after the
last finished step.

Control flow leaves the user's code through `Suspend`/`MemberDone`/`Cancelled`, which derive from
BaseException so an `except Exception` in a function cannot swallow them.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus import waits
from joelclaw.bus.functions import INVOKED_EVENT
from joelclaw.bus.nowait import Pending
from joelclaw.bus.runs import preview
from joelclaw.bus.scheduler import publish_run, target_for
from joelclaw.errors import FunctionDefinitionError, NonRetriable, RetryAfter, StepError
from joelclaw.events.model import Event

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


class Step:
    """The `step` object a function receives: every method is durable and memoized by id."""

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

    # -- the step kinds ------------------------------------------------------------------------

    def run(self, step_id: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run `fn` once; later replays return its stored JSON result."""
        key = self._key(step_id)
        if key in self.memo:
            return self._unwrap(key)
        self._before_new_work(key)
        return self._execute(key, "run", lambda: fn(*args, **kwargs))

    def sleep(self, step_id: str, duration: float | str | timedelta) -> None:
        """Sleep durably: the run holds no worker while it sleeps, for seconds or for days."""
        key = self._key(step_id)
        if key not in self.memo:
            self._before_new_work(key)
            self._save(key, {"until": time.time() + seconds(duration)})
        self._sleep(key)

    def sleep_until(self, step_id: str, when: float) -> None:
        """Sleep until a Unix timestamp (or a datetime)."""
        key = self._key(step_id)
        if key not in self.memo:
            self._before_new_work(key)
            at = when.timestamp() if hasattr(when, "timestamp") else float(when)
            self._save(key, {"until": at})
        self._sleep(key)

    def wait_for_event(
        self,
        step_id: str,
        event: str,
        *,
        timeout: float | str | timedelta,
        match: str | None = None,
        if_: str | None = None,
    ) -> dict[str, Any] | None:
        """Suspend until a matching `event` arrives (returned as a dict) or `timeout` (None)."""
        key = self._key(step_id)
        memo = self.memo.get(key)
        if memo is not None and "v" in memo:
            return self._unwrap(key)
        if memo is None:
            self._before_new_work(key)
            if match and if_:
                raise FunctionDefinitionError("wait_for_event takes `match` or `if_`, not both")
            if if_:
                from joelclaw.expressions import compile_expression

                compile_expression(if_, names=waits.WAIT_NAMES)
            spec = {"event": event, "match": match, "if": if_, "trigger": self._run.event,
                    "expires": time.time() + seconds(timeout), "run": self._run.id}
            self._save(key, {"pending": spec})
            waits.register(self.rt, self._run.id, key, spec)
            found = waits.lookback(self.rt, spec, self._run.created_at * 1000)
            if found is not None:
                waits.resolve(self.rt, self._run.id, key, event, found, wake=False)
                return self._reload(key, "wait")
            self._trace_state(key, "wait", "waiting", wait=_wait_info(spec))
            raise Suspend("waiting", spec["expires"])
        spec = memo["pending"]
        if time.time() >= spec["expires"]:
            waits.resolve(self.rt, self._run.id, key, event, None, wake=False)
            return self._reload(key, "wait")
        raise Suspend("waiting", spec["expires"])

    def send_event(self, step_id: str, events: Event | dict[str, Any] | Sequence[Any]) -> list:
        """Send events once: ids derive from the run and step, so a retry cannot send twice."""
        key = self._key(step_id)
        if key in self.memo:
            return self._unwrap(key)
        self._before_new_work(key)
        batch = events if isinstance(events, list | tuple) else [events]
        prepared = [self._prepare_event(key, i, e) for i, e in enumerate(batch)]
        return self._execute(
            key, "send_event", lambda: [r.to_dict() for r in self.rt.send(prepared)]
        )

    def invoke(
        self,
        step_id: str,
        function: str,
        data: dict[str, Any] | None = None,
        *,
        timeout: float | str | timedelta | None = None,
    ) -> Any:
        """Start another function and suspend until its result (its error raises StepError)."""
        key = self._key(step_id)
        memo = self.memo.get(key)
        if memo is not None and "pending" not in memo:
            return self._unwrap(key)
        if memo is None:
            self._before_new_work(key)
            target = self.rt.function(function)
            if target is None:
                raise NonRetriable(f"invoke: no function with id {function!r}")
            expires = time.time() + seconds(timeout) if timeout is not None else None
            event = Event(name=INVOKED_EVENT, data=data or {}, id=f"{self._run.id}-{key}")
            self._save(key, {"pending": {"event_id": event.id, "expires": expires}})
            self.rt.redis.hset(keys.run_pending(self._run.id), key, "1")
            self.rt.send([event], only=target, trigger="invoke",
                         parent={"run": self._run.id, "step": key})
            self._trace_state(key, "invoke", "waiting", invoke={"function": function,
                                                                   "event_id": event.id})
            raise Suspend("waiting", expires)
        expires = memo["pending"].get("expires")
        if expires is not None and time.time() >= expires:
            timed_out = {"e": {"name": "InvokeTimeout", "message": f"{function} timed out"}}
            self.rt.scripts.resolve(
                keys=[keys.run_pending(self._run.id), keys.run_memo(self._run.id), keys.WAKEUPS],
                args=[key, key, json.dumps(timed_out), time.time(), ""],
            )
            return self._reload(key, "invoke")
        raise Suspend("waiting", expires)

    def parallel(self, step_id: str, callables: Sequence[Callable[[], Any]]) -> list[Any]:
        """Run callables concurrently as a Celery group; resume with all results in order.

        A member that fails after its retries fails the step with that member's error.
        """
        key = self._key(step_id)
        memo = self.memo.get(key)
        if memo is not None and "pending" not in memo:
            return self._unwrap(key)
        if self.member is not None:
            self._run_member(key, callables)
        if memo is None:
            self._before_new_work(key)
            self._start_members(key, len(callables))
            raise Suspend("waiting")
        return self._gather(key, len(callables))

    # -- parallel internals ------------------------------------------------------------------

    def _start_members(self, key: str, count: int) -> None:
        from celery import group

        self._save(key, {"pending": {"members": count}})
        targets = {target_for(self._run.id, (key, i)): time.time() + keys.OUTBOX_GRACE_SECONDS
                   for i in range(count)}
        if targets:
            self.rt.redis.zadd(keys.WAKEUPS, targets)
        self._trace_state(key, "parallel", "waiting", members=count)
        now = time.time()
        task = self.rt.celery.signature
        group(
            task(self.fn.task_name, args=[self._run.id],
                 kwargs={"member": [key, i], "ready_at": now}, queue=self.fn.queue)
            for i in range(count)
        ).apply_async()
        if count == 0:
            self._gather(key, 0)

    def _run_member(self, key: str, callables: Sequence[Callable[[], Any]]) -> None:
        member_key, index = self.member  # type: ignore[misc]
        if member_key != key:
            raise MemberDone()  # a different parallel step: not this member's business
        sub_key = f"{key}[{index}]"
        if sub_key not in self.memo:
            with contextlib.suppress(StepError):  # stored as the member's error
                self._execute(sub_key, "parallel.member", callables[index])
        done = self.rt.redis.pipeline()
        done.sadd(keys.parallel_done(self._run.id, key), index)
        done.scard(keys.parallel_done(self._run.id, key))
        done.expire(keys.parallel_done(self._run.id, key), 7 * 86400)
        _, finished, _ = done.execute()
        if finished >= len(callables):
            self.rt.wake(self._run.id, time.time())
            publish_run(self.rt, self.fn, self._run.id)
        raise MemberDone()

    def _gather(self, key: str, count: int) -> list[Any]:
        results = [self.memo.get(f"{key}[{i}]") for i in range(count)]
        if any(r is None for r in results):
            raise Suspend("waiting")
        failed = next((r for r in results if "e" in r), None)
        self._save(key, failed if failed else {"v": [r["v"] for r in results]})  # type: ignore[index]
        self._trace_state(key, "parallel", "failed" if failed else "completed",
                          ended_at=time.time())
        return self._unwrap(key)

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

    def _sleep(self, key: str) -> None:
        until = self.memo[key].get("until")
        if "v" in self.memo[key]:
            return
        if time.time() >= until:
            self._save(key, {"v": None, "until": until})
            self._trace_state(key, "sleep", "completed", until=until, ended_at=time.time())
            return
        self._trace_state(key, "sleep", "sleeping", until=until)
        raise Suspend("sleeping", until)

    def _prepare_event(self, key: str, index: int, raw: Event | dict[str, Any]) -> Event:
        if isinstance(raw, Event):
            if "id" in raw.model_fields_set:
                return raw
            raw = raw.model_dump(exclude={"id"})
        event = dict(raw)
        event.setdefault("id", f"{self._run.id}-{key}-{index}")
        from joelclaw.events.schemas import parse_event

        return parse_event(event)

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


def _wait_info(spec: dict[str, Any]) -> dict[str, Any]:
    return {"event": spec["event"], "match": spec.get("match"), "if": spec.get("if"),
            "expires": spec["expires"]}
