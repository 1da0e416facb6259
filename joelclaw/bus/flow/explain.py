"""`joelclaw explain <run>`: why a run is not running, in words and as data.

Reads only what the run and its flow-control records already hold: the `held` record the gate
writes (which limit, which key, how many ahead, until when), the sleeping or waiting step, the
retry back-off. Nothing here changes state.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joelclaw.bus.control.pausing import HELD_KIND, pause_of
from joelclaw.bus.flow import waits
from joelclaw.bus.records import wakeups
from joelclaw.bus.records.runs import TERMINAL, Run
from joelclaw.durations import humane
from joelclaw.errors import NotFound

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


def explain_run(rt: Bus, run_id: str) -> dict[str, Any]:
    run = rt.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after the retention period)")
    steps = [step.fields() for step in rt.runs.steps(run_id)]  # the explanation shows them
    reason, detail = _reason(rt, run, steps)
    paused = pause_of(rt, run.function) if run.status not in TERMINAL else None
    if paused and (run.held or {}).get("kind") != HELD_KIND:
        reason += (f"; its function {run.function} is paused, so it waits in line when it "
                   "would go on")
    return {"id": run.id, "function": run.function, "status": run.status, "reason": reason,
            "detail": detail, "holds": run.holds, "paused": paused}


def _reason(rt: Bus, run: Run, steps: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    when = When(time.time(), rt.settings.timezone)
    if run.status in TERMINAL:
        why = (run.error or {}).get("message") if run.status != "completed" else None
        link = (run.error or {}).get("dedupe")
        if run.status == "skipped" and link:  # a semantic duplicate: say of what
            return (f"not running: deduplicated, its event duplicates the event of run "
                    f"{link['run']} ({why})", {"dedupe": link, "duplicate_of": link["run"]})
        return f"not running: it {run.status}" + (f" ({why})" if why else ""), {}
    if run.status == "running":
        current = next((s for s in reversed(steps) if s.get("status") == "running"), None)
        where = f" step {current['key']!r}" if current else ""
        return f"running{where} now", {"step": current}
    if run.status == "sleeping":
        step = next((s for s in steps if s.get("status") == "sleeping"), {})
        until = step.get("until")
        return (f"sleeping in step {step.get('key')!r} until {when(until)}",
                {"step": step.get("key"), "until": until})
    if run.status == "waiting":
        return _waiting(run, steps, when)
    return _queued(rt, run, steps, when)


def _waiting(run: Run, steps: list[dict[str, Any]], when: When) -> tuple[str, dict[str, Any]]:
    step = next((s for s in steps if s.get("status") == "waiting"), {})
    wait, invoke = step.get("wait"), step.get("invoke")
    if wait:
        expected = waits.expected(wait, run.event)
        cond = (f" matching {wait['match']} = {json.dumps(expected)}" if wait.get("match") else
                f" where {wait['if']}" if wait.get("if") else "")
        return (f"waiting in step {step.get('key')!r} for event {wait['event']}{cond}, "
                f"until {when(wait.get('expires'))}",
                {"step": step.get("key"), **wait, "expected": expected})
    if invoke:
        return (f"waiting in step {step.get('key')!r} for invoked function "
                f"{invoke['function']}", {"step": step.get("key"), **invoke})
    if step.get("type") in ("task", "canvas"):
        tasks = step.get("tasks") or []
        names = ", ".join(sorted({str(t.get("name")) for t in tasks})) or "?"
        until = (f", until {when(step['expires'])}" if step.get("expires") else "")
        what = "Celery task" if step["type"] == "task" else f"Celery canvas of {len(tasks)} tasks"
        return (f"waiting in step {step.get('key')!r} for {what} ({names}){until}",
                {"step": step.get("key"), "tasks": tasks, "expires": step.get("expires")})
    return f"waiting in step {step.get('key')!r} for its parallel members", {
        "step": step.get("key")}


def _queued(rt: Bus, run: Run, steps: list[dict[str, Any]], when: When
            ) -> tuple[str, dict[str, Any]]:
    held = run.held
    if held and held.get("kind") == HELD_KIND:
        by = f" by {held['by']}" if held.get("by") else ""
        why = f" ({held['reason']})" if held.get("reason") else ""
        return (f"paused: function {run.function} was paused{by} at "
                f"{when(held.get('paused_at'))}{why}; the run starts when it is resumed "
                f"(`joelclaw resume {run.function}`)", held)
    if held and held.get("kind") == "throttle":
        return (f"held by throttle: {held['limit']} per {held['period']:g}s"
                f"{_key(held)}; starts at {when(held.get('until'))}", held)
    if held and held.get("kind") == "concurrency":
        ahead = _ahead(rt, run, held)
        return (f"held by concurrency limit {held['limit']} ({held.get('scope', 'fn')} scope)"
                f"{_key(held)}: all {held['limit']} slots busy, {ahead} run(s) ahead in line; "
                f"rechecks by {when(held.get('recheck_at'))}", {**held, "ahead": ahead})
    retrying = next((s for s in steps if s.get("status") == "retrying"), None)
    if retrying and retrying.get("deferred"):
        return (f"deferred in step {retrying['key']!r} until "
                f"{when(retrying.get('next_attempt_at'))}: {retrying['deferred']}",
                {"step": retrying["key"], "deferred": retrying["deferred"],
                 "until": retrying.get("next_attempt_at")})
    if run.error and run.error.get("deferred"):
        return (f"deferred until {when(run.error.get('next_attempt_at'))}: "
                f"{run.error['deferred']}", {"deferred": run.error["deferred"],
                                             "until": run.error.get("next_attempt_at")})
    if retrying:
        return (f"retrying step {retrying['key']!r} at "
                f"{when(retrying.get('next_attempt_at'))}", {"step": retrying["key"]})
    if run.error and run.error.get("next_attempt_at"):
        return (f"retrying the function at {when(run.error['next_attempt_at'])}",
                {"next_attempt_at": run.error["next_attempt_at"]})
    due, check = wakeups.due_of(rt.redis, run.id)
    detail = {"wakeup_at": due, "outbox_check_at": check}
    reason = "queued: waiting for a free worker (no flow-control limit holds it)"
    if check is not None:
        reason += f"; if its broker message is gone by {when(check)} (e.g. `celery " \
                  "purge`), it is published again"
    return reason, detail


def _ahead(rt: Bus, run: Run, held: dict[str, Any]) -> int:
    """The live position in line, not the one recorded when the run was parked."""
    from joelclaw.bus.flow.gate import constraints

    fn = rt.function(run.function)
    if fn is None or fn.flow is None:
        return int(held.get("ahead", 0))
    for _, queue, _limit in constraints(fn, run):
        rank = rt.redis.zrank(queue, run.id)
        if rank is not None:
            return int(rank)
    return int(held.get("ahead", 0))


def _key(held: dict[str, Any]) -> str:
    return f" on key {held['key']!r}" if held.get("key") else ""


@dataclass(frozen=True)
class When:
    """Moments for people, in the configured zone: `14:05:09 CET (in 1 h 58 m)`."""

    now: float
    zone: str

    def __call__(self, at: float | None) -> str:
        return humane.moment(at, self.zone, self.now)
