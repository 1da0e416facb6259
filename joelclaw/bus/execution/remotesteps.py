"""Steps that run on other workers: parallel members (a Celery group of this function's own
task), a plain Celery task and a whole canvas. The run suspends, holding no worker, until the
answers are stored; `Steps` (joelclaw.bus.execution.steps) adds the other step kinds.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from joelclaw.bus.delivery.publish import publish_run, target_for
from joelclaw.bus.execution import canvas
from joelclaw.bus.execution.stepbase import MemberDone, StepBase, Suspend
from joelclaw.bus.records import wakeups
from joelclaw.bus.records.memo import Done, Failed, Pending, finished
from joelclaw.bus.records.previews import preview
from joelclaw.bus.records.runs import StepTrace
from joelclaw.durations import Duration, seconds
from joelclaw.effects import DEFAULT as DEFAULT_EFFECT
from joelclaw.effects import Effect
from joelclaw.effects import check as check_effect
from joelclaw.errors import FunctionDefinitionError, NonRetriable, StepError


class RemoteSteps(StepBase):
    """parallel, task and canvas, and their bookkeeping."""

    def parallel(self, step_id: str, callables: Sequence[Callable[[], Any]], *,
                 effect: Effect | None = None) -> list[Any]:
        """Run callables concurrently as a Celery group; resume with all results in order.

        A member that fails after its retries fails the step with that member's error.
        """
        self._effect = check_effect(effect) or DEFAULT_EFFECT
        key = self._key(step_id)
        record = self.memo.get(key)
        if finished(record):
            return self._unwrap(key)
        if self.member is not None:
            self._run_member(key, callables)
        if record is None:
            self._before_new_work(key)
            self._start_members(key, len(callables))
            raise Suspend("waiting")
        return self._gather(key, len(callables))

    def task(self, step_id: str, task: Any, *args: Any, timeout: Duration | None = None,
             effect: Effect | None = None, **kwargs: Any) -> Any:
        """Run a plain Celery task (a signature, a task object or a registered name, on any
        worker of the broker) and suspend, holding no worker, until its result.

        Its final failure (after the task's own retries) fails the step with the task's
        exception type, message and traceback; `timeout` fails it if no answer comes in time.
        """
        from celery.canvas import Signature

        self._effect = check_effect(effect) or DEFAULT_EFFECT

        key = self._key(step_id)
        record = self.memo.get(key)
        if record is not None:
            return self._await_canvas(key, "task", record)
        if isinstance(task, Signature):
            sig = task.clone(args=args, kwargs=kwargs) if args or kwargs else task
        elif isinstance(task, str):
            sig = self.rt.celery.signature(task, args=args, kwargs=kwargs)
        elif hasattr(task, "s"):
            sig = task.s(*args, **kwargs)
        else:
            raise FunctionDefinitionError(
                f"step.task takes a signature, a task or a task name, not {type(task).__name__}")
        return self._start_canvas(key, "task", sig, timeout)

    def canvas(self, step_id: str, workflow: Any, *, timeout: Duration | None = None,
               effect: Effect | None = None) -> Any:
        """Run a Celery canvas as one step: a chain's final result, a group's list of results,
        a chord's callback result. A failing task anywhere fails the step with its error."""
        self._effect = check_effect(effect) or DEFAULT_EFFECT
        key = self._key(step_id)
        record = self.memo.get(key)
        if record is not None:
            return self._await_canvas(key, "canvas", record)
        return self._start_canvas(key, "canvas", workflow, timeout)

    # -- task and canvas internals -----------------------------------------------------------

    def _start_canvas(self, key: str, kind: str, workflow: Any,
                      timeout: Duration | None) -> Any:
        self._before_new_work(key)
        try:
            tree = canvas.spec_of(workflow)
        except NonRetriable as exc:
            record = self.trace.setdefault(key, StepTrace(key=key, type=kind, attempts=1,
                                                          worker=self.worker))
            return self._fail(key, record, exc)
        run_id = self._run.id
        base = canvas.base_id(run_id, key)
        expires = time.time() + seconds(timeout) if timeout is not None else None
        pending = Pending({"canvas": base, "expires": expires, "timeout": timeout})
        pipe = self.rt.redis.pipeline(transaction=True)
        self.rt.runs.save_memo(run_id, key, pending, pipe=pipe)
        self.rt.runs.mark_invoking(run_id, key, pipe=pipe)
        canvas.create(pipe, base, run_id, key, tree)
        pipe.execute()
        self.memo[key] = pending
        state = canvas.State(base, run_id, key, tree)

        def launch() -> None:
            with contextlib.suppress(canvas.Unconfirmed):  # another execution is launching it
                canvas.launch(self.rt, state)
                canvas.mark_launched(self.rt, base)

        # Published once this execution released its lease, so a quick answer finds the run
        # free; if this process dies first, the safety wake-up replays the step, which sees
        # the canvas was not launched and launches it.
        self.after_release.append(launch)
        safety = time.time() + self.rt.settings.runs.outbox_grace_seconds
        leaves = canvas.leaves(tree)
        self._trace_state(key, kind, "waiting", expires=expires, effect=self._effect,
                          **_what(kind, base, leaves))
        raise Suspend("waiting", min(safety, expires) if expires is not None else safety)

    def _await_canvas(self, key: str, kind: str, record: Any) -> Any:
        base = canvas.base_id(self._run.id, key)
        if finished(record):
            traced = self.trace.get(key)
            if self.member is None and traced is not None and traced.status == "waiting":
                return self._canvas_done(key, kind, base, record)  # first replay: trace it
            return self._unwrap(key)
        spec = record.spec
        base, expires = spec["canvas"], spec.get("expires")
        stored = self.rt.runs.memo_record(self._run.id, key)  # an answer stored meanwhile
        if not finished(stored) and expires is not None and time.time() >= expires:
            canvas.time_out(self.rt, base, self._run.id, key,
                            f"no answer within {spec.get('timeout')} s")
            stored = self.rt.runs.memo_record(self._run.id, key)
        if finished(stored):
            return self._canvas_done(key, kind, base, stored)
        if not canvas.launched(self.rt, base):  # the last execution died while publishing
            state = canvas.load(self.rt, base)
            try:
                if state is not None:
                    canvas.launch(self.rt, state)
                    canvas.mark_launched(self.rt, base)
            except canvas.Unconfirmed:  # look again once that claim may be declared dead
                again = time.time() + canvas.CLAIM_GRACE + 1
                raise Suspend("waiting", min(again, expires) if expires else again) from None
        raise Suspend("waiting", expires)

    def _canvas_done(self, key: str, kind: str, base: str, stored: Any) -> Any:
        self.memo[key] = stored
        tasks = canvas.tasks_of(self.rt, base)
        extra: dict[str, Any] = {"tasks": tasks,
                                 "retries": sum(t.get("retries", 0) for t in tasks)}
        if kind == "task":
            # The step's tries are its task's deliveries (first run, Celery retries, redeliveries
            # after a lost worker); unknown when no worker with joelclaw's hooks ran it.
            extra["attempts"] = tasks[0].get("deliveries") or None if tasks else None
        if kind == "task" and tasks:
            extra["task"] = tasks[0]
            for name in ("queue_delay_ms", "execution_ms"):
                if name in tasks[0]:
                    extra[name] = tasks[0][name]
        if isinstance(stored, Failed):
            error = canvas.error_of(self.rt, base) or {"name": stored.name,
                                                       "message": stored.message, "stack": ""}
            self._trace_state(key, kind, "failed", ended_at=time.time(), error=error, **extra)
            raise stored.error(key) from canvas.RemoteTaskError(
                error.get("stack") or f"{stored.name}: {stored.message}")
        self._trace_state(key, kind, "completed", ended_at=time.time(),
                          output=preview(stored.value), **extra)
        return stored.value

    # -- parallel internals ------------------------------------------------------------------

    def _start_members(self, key: str, count: int) -> None:
        from celery import group

        self._save(key, Pending({"members": count}))
        grace = self.rt.settings.runs.outbox_grace_seconds
        targets = {target_for(self._run.id, (key, i)): time.time() + grace
                   for i in range(count)}
        wakeups.guard(self.rt.redis, targets)
        self._trace_state(key, "parallel", "waiting", members=count, effect=self._effect)
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
        member_key, index = self.member  # type: ignore[misc]  # set in a member execution
        if member_key != key:
            raise MemberDone()  # a different parallel step: not this member's business
        sub_key = f"{key}[{index}]"
        if sub_key not in self.memo:
            with contextlib.suppress(StepError):  # stored as the member's error
                self._execute(sub_key, "parallel.member", callables[index], new_work=False,
                              effect=self._effect)
        self.confirm_written()  # the parent must find this member's result when it gathers
        if self.rt.runs.member_done(self._run.id, key, index) >= len(callables):
            safety = time.time() + self.rt.settings.runs.outbox_grace_seconds
            wakeups.guard(self.rt.redis, {self._run.id: safety}, earlier_only=True)
            publish_run(self.rt, self.fn, self._run.id)
        raise MemberDone()

    def _gather(self, key: str, count: int) -> list[Any]:
        results = [self.memo.get(f"{key}[{i}]") for i in range(count)]
        if not all(finished(r) for r in results):
            raise Suspend("waiting")
        failed = next((r for r in results if isinstance(r, Failed)), None)
        self._save(key, failed or Done([r.value for r in results]))  # type: ignore[union-attr]  # all Done
        self._trace_state(key, "parallel", "failed" if failed else "completed",
                          ended_at=time.time())
        return self._unwrap(key)



def _what(kind: str, base: str, leaves: list[dict[str, Any]]) -> dict[str, Any]:
    """What a waiting task or canvas step shows in its trace: task names and ids."""
    tasks = [{"name": leaf["task"], "id": canvas.task_id(base, leaf["path"])} for leaf in leaves]
    if kind == "task":
        return {"task": tasks[0], "tasks": tasks}
    return {"tasks": tasks}

