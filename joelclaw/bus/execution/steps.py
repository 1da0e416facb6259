"""Durable steps. A function is replayed from the top on every execution; each step looks up its
memoized result first, so completed work is returned, not redone, and the run resumes after the
last finished step. Here: run, sleep, wait_for_event, send_event, invoke, and the `Step` object
functions see; parallel, task and canvas are in joelclaw.bus.execution.remotesteps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from joelclaw.bus.execution.remotesteps import RemoteSteps
from joelclaw.bus.execution.stepbase import Suspend
from joelclaw.bus.flow import waits
from joelclaw.bus.functions.registry import INVOKED_EVENT
from joelclaw.bus.records.memo import Done, Failed, Pending, Sleeping, finished
from joelclaw.durations import Duration, seconds
from joelclaw.effects import DEFAULT as DEFAULT_EFFECT
from joelclaw.effects import Effect
from joelclaw.effects import check as check_effect
from joelclaw.errors import FunctionDefinitionError, NonRetriable
from joelclaw.events.model import Event
from joelclaw.events.schemas import parse_event
from joelclaw.expressions import compile_expression


class Steps(RemoteSteps):
    """The step kinds and their bookkeeping for one execution; functions see it through
    `Step`, which shows the kinds and nothing of the plumbing."""

    # -- the step kinds ------------------------------------------------------------------------

    def run(self, step_id: str, fn: Callable[..., Any], *args: Any,
            effect: Effect | None = None, **kwargs: Any) -> Any:
        """Run `fn` once; later replays return its stored JSON result."""
        declared = check_effect(effect) or DEFAULT_EFFECT
        key = self._key(step_id)
        if key in self.memo:
            return self._unwrap(key)
        return self._execute(key, "run", lambda: fn(*args, **kwargs), effect=declared)

    def sleep(self, step_id: str, duration: Duration) -> None:
        """Sleep durably: the run holds no worker while it sleeps, for seconds or for days."""
        key = self._key(step_id)
        if key not in self.memo:
            self._before_new_work(key)
            self._save(key, Sleeping(time.time() + seconds(duration)))
        self._sleep(key)

    def sleep_until(self, step_id: str, when: Any) -> None:
        """Sleep until a Unix timestamp (or a datetime)."""
        key = self._key(step_id)
        if key not in self.memo:
            self._before_new_work(key)
            at = when.timestamp() if hasattr(when, "timestamp") else float(when)
            self._save(key, Sleeping(at))
        self._sleep(key)

    def wait_for_event(
        self,
        step_id: str,
        event: str,
        *,
        timeout: Duration,
        match: str | None = None,
        if_: str | None = None,
    ) -> dict[str, Any] | None:
        """Suspend until a matching `event` arrives (returned as a dict) or `timeout` (None)."""
        key = self._key(step_id)
        record = self.memo.get(key)
        if finished(record):
            self._settle(key, "wait")  # matched (or timed out) since the run last ran
            return self._unwrap(key)
        if record is None:
            self._before_new_work(key)
            if match and if_:
                raise FunctionDefinitionError("wait_for_event takes `match` or `if_`, not both")
            if if_:
                compile_expression(if_, names=waits.WAIT_NAMES)
            spec: dict[str, Any] = {
                "event": event, "match": match, "if": if_, "trigger": self._run.event,
                "expires": time.time() + seconds(timeout), "run": self._run.id}
            self._save(key, Pending(spec))
            waits.register(self.rt, self._run.id, key, spec)
            found = waits.lookback(self.rt, spec, self._run.created_at * 1000)
            if found is not None:
                waits.resolve(self.rt, self._run.id, key, event, found, wake=False)
                return self._reload(key, "wait", wait=_wait_info(spec))
            self._trace_state(key, "wait", "waiting", wait=_wait_info(spec))
            raise Suspend("waiting", spec["expires"])
        spec = record.spec  # type: ignore[union-attr]  # neither None nor finished: Pending
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
            key, "send_event", lambda: [r.to_dict() for r in self.rt.send(prepared)],
            effect="write")

    def invoke(
        self,
        step_id: str,
        function: str,
        data: dict[str, Any] | None = None,
        *,
        timeout: Duration | None = None,
        effect: Effect | None = None,
    ) -> Any:
        """Start another function and suspend until its result (its error raises StepError)."""
        self._effect = check_effect(effect) or DEFAULT_EFFECT
        key = self._key(step_id)
        record = self.memo.get(key)
        if finished(record):
            self._settle(key, "invoke")  # the invoked run answered since this run last ran
            return self._unwrap(key)
        if record is None:
            self._before_new_work(key)
            target = self.rt.function(function)
            if target is None:
                raise NonRetriable(f"invoke: no function with id {function!r}")
            expires = time.time() + seconds(timeout) if timeout is not None else None
            event = Event(name=INVOKED_EVENT, data=data or {}, id=f"{self._run.id}-{key}")
            self._save(key, Pending({"event_id": event.id, "expires": expires}))
            self.rt.runs.mark_invoking(self._run.id, key)
            self.rt.send([event], only=target, trigger="invoke",
                         parent={"run": self._run.id, "step": key})
            self._trace_state(key, "invoke", "waiting", effect=self._effect,
                              invoke={"function": function, "event_id": event.id})
            raise Suspend("waiting", expires)
        expires = record.spec.get("expires")  # type: ignore[union-attr]  # Pending, as above
        if expires is not None and time.time() >= expires:
            self.rt.runs.resolve_invoke(self._run.id, key,
                                        Failed("InvokeTimeout", f"{function} timed out"),
                                        wake=False)
            return self._reload(key, "invoke")
        raise Suspend("waiting", expires)

    def _sleep(self, key: str) -> None:
        record = self.memo[key]
        if not isinstance(record, Sleeping):
            return
        if time.time() >= record.until:
            self._save(key, Done(None))
            self._trace_state(key, "sleep", "completed", until=record.until,
                              ended_at=time.time())
            return
        self._trace_state(key, "sleep", "sleeping", until=record.until)
        raise Suspend("sleeping", record.until)

    def _prepare_event(self, key: str, index: int, raw: Event | dict[str, Any]) -> Event:
        if isinstance(raw, Event):
            if "id" in raw.model_fields_set:
                return raw
            raw = raw.as_dict()
            raw.pop("id")
        event = dict(raw)
        event.setdefault("id", f"{self._run.id}-{key}-{index}")
        return parse_event(event)


class Step:
    """The `step` object a function receives: every method is durable and memoized by id.

    Only the step kinds are here (an editor's completion offers nothing else); the
    bookkeeping of the execution stays on the engine's side (`Steps`).
    """

    __slots__ = ("_steps",)

    def __init__(self, steps: Steps):
        self._steps = steps

    def run(self, step_id: str, fn: Callable[..., Any], *args: Any,
            effect: Effect | None = None, **kwargs: Any) -> Any:
        """Run `fn(*args, **kwargs)` once; later replays return its stored JSON result.
        `effect` says what it does: "pure", "read", "write" (the default) or "notify"; a
        shadow run re-executes pure and read steps and replays the others' recorded output."""
        return self._steps.run(step_id, fn, *args, effect=effect, **kwargs)

    def sleep(self, step_id: str, duration: Duration) -> None:
        """Sleep durably ("10m", "2d", seconds): the run holds no worker while it sleeps."""
        self._steps.sleep(step_id, duration)

    def sleep_until(self, step_id: str, when: Any) -> None:
        """Sleep until a Unix timestamp (or a datetime)."""
        self._steps.sleep_until(step_id, when)

    def wait_for_event(self, step_id: str, event: str, *, timeout: Duration,
                       match: str | None = None, if_: str | None = None
                       ) -> dict[str, Any] | None:
        """Suspend until a matching `event` arrives (returned as a dict) or `timeout` (None);
        `match` names a field equal in both events, `if_` is an expression over `event` and
        `async` (the awaited event). An event sent just before the wait is not missed."""
        return self._steps.wait_for_event(step_id, event, timeout=timeout, match=match, if_=if_)

    def send_event(self, step_id: str, events: Event | dict[str, Any] | Sequence[Any]) -> list:
        """Send events once: ids derive from the run and step, so a retry cannot send twice."""
        return self._steps.send_event(step_id, events)

    def invoke(self, step_id: str, function: str, data: dict[str, Any] | None = None, *,
               timeout: Duration | None = None, effect: Effect | None = None) -> Any:
        """Start another function and suspend until its result (its error raises StepError)."""
        return self._steps.invoke(step_id, function, data, timeout=timeout, effect=effect)

    def parallel(self, step_id: str, callables: Sequence[Callable[[], Any]], *,
                 effect: Effect | None = None) -> list[Any]:
        """Run callables concurrently as a Celery group; resume with all results in order (a
        member that fails after its retries fails the step with its error)."""
        return self._steps.parallel(step_id, callables, effect=effect)

    def task(self, step_id: str, task: Any, *args: Any, timeout: Duration | None = None,
             effect: Effect | None = None, **kwargs: Any) -> Any:
        """Run a plain Celery task (a signature, a task object or a registered name) and
        suspend, holding no worker, until its result; its final failure fails the step."""
        return self._steps.task(step_id, task, *args, timeout=timeout, effect=effect, **kwargs)

    def canvas(self, step_id: str, workflow: Any, *, timeout: Duration | None = None,
               effect: Effect | None = None) -> Any:
        """Run a Celery canvas as one step: a chain's final result, a group's list of results,
        a chord's callback result. A failing task anywhere fails the step with its error."""
        return self._steps.canvas(step_id, workflow, timeout=timeout, effect=effect)



def _wait_info(spec: dict[str, Any]) -> dict[str, Any]:
    return {"event": spec["event"], "match": spec.get("match"), "if": spec.get("if"),
            "expires": spec["expires"]}
