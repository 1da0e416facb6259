"""Runs of a function that a reload removed: failed with an error naming the function and the
code version it was removed in, by the reload itself and by any up-to-date process that would
publish one later (`settle_unknown`); they never vanish, wait forever or retry forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import redis

from joelclaw import keys
from joelclaw.bus.delivery.leases import acquire, execute_releasing
from joelclaw.bus.delivery.outcomes import close_open_steps, notify_parent
from joelclaw.bus.functions.registry import FAILED_EVENT
from joelclaw.bus.records import metrics, wakeups
from joelclaw.bus.records.codestate import read
from joelclaw.bus.records.memo import Failed
from joelclaw.bus.records.runs import TERMINAL
from joelclaw.events import index_backlog
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.reload")

REMOVED_ERROR = "FunctionRemoved"
LIVE = ("queued", "running", "sleeping", "waiting")
STALE_RETRY_SECONDS = 2.0  # a process behind the last reload hands a target on this much later


def removed_message(function_id: str, version: str | None) -> str:
    where = f"code version {version}" if version else "the loaded code"
    return (f"function {function_id!r} was removed in {where} (joelclaw reload): this run "
            "cannot continue; restore the function and replay the run to run it again")


def fail_removed_run(rt: Bus, run_id: str, function_id: str, version: str | None) -> str:
    """Fail one run of a removed function under its lease: "failed", "ended" (already over)
    or "busy" (an execution holds it: the caller tries again later)."""
    lease = acquire(rt.scripts, run_id, rt.settings.runs.lease_seconds)
    if lease is None:
        return "busy"
    run = rt.runs.get(run_id)
    if run is None or run.status in TERMINAL:
        lease.release()
        return "ended"
    message = removed_message(function_id, version)
    error = {"name": REMOVED_ERROR, "message": message, "stack": ""}
    pipe, now = rt.redis.pipeline(transaction=True), time.time()
    rt.runs.update(run_id, pipe=pipe, status="failed", ended_at=now, error=error)
    close_open_steps(rt, pipe, run_id, rt.runs.steps(run_id), "failed", now)
    metrics.run_ended(pipe, function_id, "failed", created_at=run.created_at,
                      started_at=run.started_at, execution_ms=run.execution_ms)
    wakeups.forget(pipe, run_id)
    execute_releasing(pipe, lease)
    log.warning("run %s failed: %s", run_id, message)
    rt.send(Event(name=FAILED_EVENT, id=f"{run_id}-failed", data={
        "function_id": function_id, "run_id": run_id, "event": run.event,
        "error": {"name": REMOVED_ERROR, "message": message, "stack": ""}}))
    notify_parent(rt, run, Failed(REMOVED_ERROR, message))
    return "failed"


def functions_with_runs(client: redis.Redis) -> set[str]:
    """Function ids that have runs in the index (one SCAN, as the index pruning does)."""
    index_backlog.catch_up(client)
    prefix = keys.runs_of_function("")
    return {name.decode()[len(prefix):]
            for name in client.scan_iter(match=keys.runs_of_function("*"), count=500)}


def fail_removed(rt: Bus, removed: Iterable[str], version: str | None,
                 limit: int = 100000) -> dict[str, Any]:
    """Fail the live runs of every removed function; a run an execution holds right now is
    woken shortly instead (the up-to-date process that publishes it fails it then)."""
    failed: list[str] = []
    busy: list[str] = []
    for function_id in sorted(removed):
        for run in rt.runs.list(function=function_id, status=LIVE, limit=limit,
                                scan_limit=limit):
            outcome = fail_removed_run(rt, run.id, function_id, version)
            if outcome == "failed":
                failed.append(run.id)
            elif outcome == "busy":
                busy.append(run.id)
                rt.wake(run.id, time.time() + keys.LEASE_DEFER_SECONDS)
    return {"failed": failed, "deferred": busy}


def settle_unknown(rt: Bus, target: str, function_id: str) -> bool:
    """A run (or member) whose function this process does not know; True when handled.

    A process behind the last reload (it restarts soon) or on other code than it loaded
    leaves the target to an up-to-date one: woken again shortly, never dropped. An up-to-date
    process fails the run if the reload removed its function."""
    state = read(rt.redis)
    if rt.code.pending() or (state.version is not None and rt.code.version != state.version):
        rt.wake(target, time.time() + STALE_RETRY_SECONDS)
        return True
    if function_id not in state.removed:
        return False
    run_id = target.split("|")[0]
    if fail_removed_run(rt, run_id, function_id, state.removed[function_id]) == "busy":
        rt.wake(target, time.time() + keys.LEASE_DEFER_SECONDS)
    return True
