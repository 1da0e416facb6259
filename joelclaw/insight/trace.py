"""A run's trace as every view shows it: `joelclaw run`, `GET /api/runs/<id>` and the dashboard.

The stored records, settled with what a record alone cannot say: a wait whose event arrived (or
an invoke whose run answered) after the run last ran is completed with that result; a step
still sleeping, waiting or running in a run that ended is not shown as if it went on (cancelled
with a cancelled run, its last error with a failed one, "unknown" when nobody can know). Each
step lists its attempts (`attempt_list`) and its tries (`tries`, None when unknown); a task
step shows its Celery task (name, id, worker, deliveries) read live while it waits, with a link
to Flower's page for it when Flower's address is configured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw.bus.records import OPEN, Done, Failed, Memo, attempts_of, trace_fields, trace_of

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

RETRIED_KINDS = frozenset({"run", "send_event", "parallel.member"})  # steps with retries
RESOLVED_FROM_OUTSIDE = frozenset({"wait", "invoke", "task", "canvas"})


def run_trace(rt: Bus, run_id: str) -> dict[str, Any] | None:
    """The trace of one run as the views show it; None when there is no such run."""
    loaded = rt.runs.load(run_id)
    trace = trace_of(loaded)
    if trace is None:
        return None
    flower = (rt.settings.flower.url or "").rstrip("/") or None
    steps = []
    for raw in trace["steps"]:
        step = settle(dict(raw), loaded.memo.get(raw["key"]), trace)
        if step.get("type") in ("task", "canvas"):
            _tasks(rt, trace["id"], step, flower)
        # A step a rerun reused was tried in the run it came from (linked), not in this one.
        step["attempt_list"] = [] if step.get("reused_from") else attempts_of(step)
        step["tries"] = tries(step)
        steps.append(step)
    trace["steps"] = steps
    trace["function_retries"] = trace.get("attempts", 0)
    trace["step_attempts"] = sum(s["tries"] or 0 for s in steps
                                 if s.get("type") in RETRIED_KINDS)
    trace["retried_steps"] = [s["key"] for s in steps
                              if s.get("type") in RETRIED_KINDS and (s["tries"] or 0) > 1]
    trace["flower_url"] = flower
    return trace


def settle(step: dict[str, Any], memo: Memo | None, run: dict[str, Any]) -> dict[str, Any]:
    """The step's status as it truly is, given its memo record and its run."""
    if step.get("status") not in OPEN:
        return step
    if step.get("type") in RESOLVED_FROM_OUTSIDE and isinstance(memo, Done | Failed):
        status, fields = trace_fields(memo, step.get("type", ""))
        step.update(status=status, **fields,
                    ended_at=memo.at or run.get("ended_at") or step.get("started_at"))
        return step
    if run.get("ended_at") is None:
        return step
    step.pop("next_attempt_at", None)
    step["ended_at"] = step.get("ended_at") or run["ended_at"]
    if run.get("status") == "cancelled":
        step["status"] = "cancelled"
    elif step.get("status") == "retrying":
        step["status"] = "failed"  # its last attempt failed and no retry is coming
    else:
        step["status"] = "unknown"  # the run ended under it (e.g. its function was removed)
    return step


def tries(step: dict[str, Any]) -> int | None:
    """How many times the step was tried; None when that cannot be known. A task step's tries
    are its Celery task's deliveries (first run, Celery retries, redeliveries)."""
    if step.get("type") == "task":
        delivered = (step.get("task") or {}).get("deliveries")
        if delivered is None or (not delivered and step.get("status") not in OPEN):
            return None  # it ran on a worker without joelclaw's task hooks: nobody counted
        return int(delivered)
    if step.get("reused_from"):
        return 0  # reused from an earlier run: not tried in this one
    value = step.get("attempts")
    return int(value) if value is not None else None


def _tasks(rt: Bus, run_id: str, step: dict[str, Any], flower: str | None) -> None:
    """A task or canvas step's Celery tasks: live while it waits, linked to Flower. (Canvas
    state imports Celery: only a run with such a step pays for it, not every `joelclaw run`.)"""
    if step.get("status") == "waiting":
        from joelclaw.bus.execution import canvas

        live = canvas.tasks_of(rt, canvas.base_id(run_id, step["key"]))
        if live:
            known = {t["id"]: t for t in live}
            step["tasks"] = [{**t, **known.get(t.get("id"), {})} for t in step.get("tasks", [])]
            if step.get("type") == "task" and step["tasks"]:
                step["task"] = step["tasks"][0]
    for task in step.get("tasks") or []:
        task["flower"] = f"{flower}/task/{task['id']}" if flower and task.get("id") else None
    if step.get("task") and step.get("tasks"):
        step["task"] = step["tasks"][0]
    elif step.get("task"):
        task = step["task"]
        task["flower"] = f"{flower}/task/{task['id']}" if flower and task.get("id") else None
