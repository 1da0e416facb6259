"""`joelclaw explain <run>`: why a run is not running, in words and as data.

Reads only what the run and its flow-control records already hold: the `held` record the gate
writes (which limit, which key, how many ahead, until when), the sleeping or waiting step, the
retry back-off. Nothing here changes state.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.flow.gate import constraints
from joelclaw.bus.runs import TERMINAL, Run
from joelclaw.errors import NotFound

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


def explain_run(rt: Bus, run_id: str) -> dict[str, Any]:
    run = rt.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after the retention period)")
    steps = rt.runs.steps(run_id)
    reason, detail = _reason(rt, run, steps)
    return {"id": run.id, "function": run.function, "status": run.status, "reason": reason,
            "detail": detail, "holds": run.holds}


def _reason(rt: Bus, run: Run, steps: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    now = time.time()
    if run.status in TERMINAL:
        why = (run.error or {}).get("message") if run.status != "completed" else None
        return f"not running: it {run.status}" + (f" ({why})" if why else ""), {}
    if run.status == "running":
        current = next((s for s in reversed(steps) if s.get("status") == "running"), None)
        where = f" step {current['key']!r}" if current else ""
        return f"running{where} now", {"step": current}
    if run.status == "sleeping":
        step = next((s for s in steps if s.get("status") == "sleeping"), {})
        until = step.get("until")
        return (f"sleeping in step {step.get('key')!r} until {_when(until, now)}",
                {"step": step.get("key"), "until": until})
    if run.status == "waiting":
        return _waiting(steps, now)
    return _queued(rt, run, steps, now)


def _waiting(steps: list[dict[str, Any]], now: float) -> tuple[str, dict[str, Any]]:
    step = next((s for s in steps if s.get("status") == "waiting"), {})
    wait, invoke = step.get("wait"), step.get("invoke")
    if wait:
        cond = f" matching {wait['match']}" if wait.get("match") else (
            f" where {wait['if']}" if wait.get("if") else "")
        return (f"waiting in step {step.get('key')!r} for event {wait['event']}{cond}, "
                f"until {_when(wait.get('expires'), now)}", {"step": step.get("key"), **wait})
    if invoke:
        return (f"waiting in step {step.get('key')!r} for invoked function "
                f"{invoke['function']}", {"step": step.get("key"), **invoke})
    if step.get("type") in ("task", "canvas"):
        tasks = step.get("tasks") or []
        names = ", ".join(sorted({str(t.get("name")) for t in tasks})) or "?"
        until = (f", until {_when(step['expires'], now)}" if step.get("expires") else "")
        what = "Celery task" if step["type"] == "task" else f"Celery canvas of {len(tasks)} tasks"
        return (f"waiting in step {step.get('key')!r} for {what} ({names}){until}",
                {"step": step.get("key"), "tasks": tasks, "expires": step.get("expires")})
    return f"waiting in step {step.get('key')!r} for its parallel members", {
        "step": step.get("key")}


def _queued(rt: Bus, run: Run, steps: list[dict[str, Any]], now: float
            ) -> tuple[str, dict[str, Any]]:
    held = run.held
    if held and held.get("kind") == "throttle":
        return (f"held by throttle: {held['limit']} per {held['period']:g}s"
                f"{_key(held)}; starts at {_when(held.get('until'), now)}", held)
    if held and held.get("kind") == "concurrency":
        ahead = _ahead(rt, run, held)
        return (f"held by concurrency limit {held['limit']} ({held.get('scope', 'fn')} scope)"
                f"{_key(held)}: all {held['limit']} slots busy, {ahead} run(s) ahead in line; "
                f"rechecks by {_when(held.get('recheck_at'), now)}", {**held, "ahead": ahead})
    retrying = next((s for s in steps if s.get("status") == "retrying"), None)
    if retrying and retrying.get("deferred"):
        return (f"deferred in step {retrying['key']!r} until "
                f"{_when(retrying.get('next_attempt_at'), now)}: {retrying['deferred']}",
                {"step": retrying["key"], "deferred": retrying["deferred"],
                 "until": retrying.get("next_attempt_at")})
    if run.error and run.error.get("deferred"):
        return (f"deferred until {_when(run.error.get('next_attempt_at'), now)}: "
                f"{run.error['deferred']}", {"deferred": run.error["deferred"],
                                             "until": run.error.get("next_attempt_at")})
    if retrying:
        return (f"retrying step {retrying['key']!r} at "
                f"{_when(retrying.get('next_attempt_at'), now)}", {"step": retrying["key"]})
    if run.error and run.error.get("next_attempt_at"):
        return (f"retrying the function at {_when(run.error['next_attempt_at'], now)}",
                {"next_attempt_at": run.error["next_attempt_at"]})
    due = rt.redis.zscore(keys.WAKEUPS, run.id)
    check = rt.redis.zscore(keys.OUTBOX, run.id)
    detail = {"wakeup_at": due, "outbox_check_at": check}
    reason = "queued: waiting for a free worker (no flow-control limit holds it)"
    if check is not None:
        reason += f"; if its broker message is gone by {_when(check, now)} (e.g. `celery " \
                  "purge`), it is published again"
    return reason, detail


def _ahead(rt: Bus, run: Run, held: dict[str, Any]) -> int:
    """The live position in line, not the one recorded when the run was parked."""
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


def _when(at: float | None, now: float) -> str:
    if at is None:
        return "an unknown time"
    stamp = time.strftime("%H:%M:%S", time.localtime(at))
    delta = at - now
    return f"{stamp} (in {delta:.1f}s)" if delta >= 0 else f"{stamp} ({-delta:.1f}s ago)"
