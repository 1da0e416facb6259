"""Run control from outside a run: cancel (stored in Redis, so it survives worker restarts,
unlike Celery revokes) and replay (a new run of the same function with the same event)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus import leases
from joelclaw.bus.executor import finish_cancelled
from joelclaw.bus.runs import TERMINAL, Run
from joelclaw.errors import JoelclawError, NotFound
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime


def _run_and_function(rt: Runtime, run_id: str):  # type: ignore[no-untyped-def]
    run = rt.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after the retention period)")
    fn = rt.function(run.function)
    if fn is None:
        raise JoelclawError(f"run {run_id} belongs to {run.function!r}, which is not loaded here")
    return run, fn


def cancel_run(rt: Runtime, run_id: str, reason: str = "cancelled by request") -> Run:
    """Cancel now if the run is idle (queued, sleeping, waiting); else after its current step."""
    run, fn = _run_and_function(rt, run_id)
    if run.status in TERMINAL:
        return run
    rt.runs.update(run_id, cancel_requested=True)
    lease = leases.acquire(rt.scripts, run_id, rt.settings.run_lease_seconds)
    if lease is not None:
        current = rt.runs.get(run_id)
        if current is not None and current.status not in TERMINAL:
            finish_cancelled(rt, fn, current, reason, lease=lease)
        else:
            lease.release()
    return rt.runs.get(run_id) or run


def replay_run(rt: Runtime, run_id: str) -> Run:
    """A new run of the same function for the same event; the original is untouched."""
    run, fn = _run_and_function(rt, run_id)
    event = Event.model_validate(run.event)
    result = rt.send([event], only=fn, trigger="replay", replay_of=run_id, skip_dedup=True)[0]
    new = rt.runs.get(result.runs[0])
    assert new is not None
    return new
