"""Acting on many runs at once: filter → preview (how many, which) → confirm → progress.

A preview selects the runs a filter matches and says how many an action would touch; nothing
changes. Confirming creates a job with the selected run ids (at most the count the owner saw:
if more match by then, the job is refused and the owner previews again), and executing it
cancels or replays them one by one, recording each outcome and the progress in Redis, so any
viewer (dashboard, API, CLI) sees how far it got. One executor at a time holds the job's lock;
a job whose executor died shows as interrupted and can be resumed from where it stopped (a run
being replayed at that moment may be replayed twice).

What cannot apply is refused, not skipped silently: cancelling finished runs (a filter that
names only finished statuses) is an error; a cancel without a status filter selects the runs
that have not finished.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.control.actions import cancel_run, replay_run
from joelclaw.bus.records.runs import STATUSES, TERMINAL, Run
from joelclaw.coordination.locks import Lock
from joelclaw.errors import JoelclawError, NotFound

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.bulk")
ACTIONS = ("cancel", "replay")
ACTIVE = tuple(s for s in STATUSES if s not in TERMINAL)
MAX_RUNS = 1000
SAMPLE = 10
STALE_SECONDS = 30.0  # a running job not updated for this long lost its executor
LOCK_LEASE = 30.0


class BulkError(JoelclawError):
    """A bulk action that cannot apply as asked (the caller fixes the filter)."""

    code = "BULK_REFUSED"


class BulkChanged(BulkError):
    """The runs matching changed since the preview (the caller previews again)."""

    code = "BULK_CHANGED"


@dataclass
class Selection:
    """Which runs: every given filter must hold. An empty selection is refused."""

    function: str | None = None
    statuses: list[str] = field(default_factory=list)
    since: float | None = None
    until: float | None = None
    event: str | None = None
    limit: int = 100

    def empty(self) -> bool:
        return not (self.function or self.statuses or self.since is not None
                    or self.until is not None or self.event)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Selection:
        return cls(**{k: data.get(k) for k in ("function", "since", "until", "event")},
                   statuses=list(data.get("statuses") or []), limit=int(data.get("limit", 100)))


def _check(action: str, selection: Selection) -> list[str]:
    """The statuses to select for this action; BulkError for what cannot apply."""
    if action not in ACTIONS:
        raise BulkError(f"unknown bulk action {action!r}: one of {', '.join(ACTIONS)}")
    if selection.empty():
        raise BulkError("a bulk action needs a filter (function, status, event or time): "
                        "an empty filter would mean every run")
    if not 1 <= selection.limit <= MAX_RUNS:
        raise BulkError(f"limit must be from 1 to {MAX_RUNS}")
    unknown = sorted(set(selection.statuses) - set(STATUSES))
    if unknown:
        raise BulkError(f"unknown status {', '.join(unknown)}; one of {', '.join(STATUSES)}")
    if action != "cancel":
        return selection.statuses
    finished = sorted(set(selection.statuses) & TERMINAL)
    if finished:
        raise BulkError(f"cannot cancel {' or '.join(finished)} runs: they have finished; "
                        f"cancel applies to {', '.join(ACTIVE)} runs")
    return selection.statuses or list(ACTIVE)


def select(rt: Bus, action: str, selection: Selection) -> list[Run]:
    statuses = _check(action, selection)
    if selection.function and rt.function(selection.function) is None \
            and not rt.runs.newest_ids(function=selection.function, limit=1):
        raise NotFound(f"no function with id {selection.function!r}")
    return rt.runs.list(function=selection.function, status=statuses or None,
                        since=selection.since, until=selection.until,
                        event_name=selection.event, limit=selection.limit)


def preview(rt: Bus, action: str, selection: Selection) -> dict[str, Any]:
    """How many runs the action would touch, a sample of them, and whether the limit cut it."""
    runs = select(rt, action, selection)
    return {"action": action, "filter": selection.to_dict(), "count": len(runs),
            "limited": len(runs) >= selection.limit,
            "sample": [r.summary() for r in runs[:SAMPLE]]}


# ---- jobs --------------------------------------------------------------------------------

def create(rt: Bus, action: str, selection: Selection, *, expect: int, by: str) -> dict[str, Any]:
    """A job over the runs the filter selects now; refused if more match than `expect`."""
    runs = select(rt, action, selection)
    if len(runs) > expect:
        raise BulkChanged(f"{len(runs)} runs match now, more than the {expect} previewed: "
                        "preview again and confirm the new count")
    if not runs:
        raise BulkChanged("no runs match this filter any more: nothing to do")
    job_id = f"bulk-{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:6]}"
    now = time.time()
    spec = {"id": job_id, "action": action, "filter": selection.to_dict(), "by": by,
            "created_at": now, "ids": [r.id for r in runs]}
    pipe = rt.redis.pipeline(transaction=True)
    pipe.hset(keys.bulk_job(job_id), mapping={"spec": json.dumps(spec), "done": 0,
                                               "status": "running", "updated_at": now,
                                               "counts": "{}"})
    pipe.expire(keys.bulk_job(job_id), keys.BULK_TTL)
    pipe.zadd(keys.BULK_JOBS, {job_id: now})
    pipe.zremrangebyrank(keys.BULK_JOBS, 0, -keys.BULK_KEEP - 1)
    pipe.execute()
    found = get(rt, job_id)
    assert found is not None
    return found


def get(rt: Bus, job_id: str, *, results: bool = True) -> dict[str, Any] | None:
    """The job with its progress (and its outcomes so far); None when unknown or expired."""
    raw = {k.decode(): v.decode() for k, v in rt.redis.hgetall(keys.bulk_job(job_id)).items()}
    if "spec" not in raw:
        return None
    spec = json.loads(raw["spec"])
    total, done = len(spec["ids"]), int(raw.get("done", 0))
    status = raw.get("status", "running")
    updated = float(raw.get("updated_at", 0))
    if status == "running" and time.time() - updated > STALE_SECONDS \
            and not rt.redis.exists(keys.lock(f"bulk:{job_id}")):
        status = "interrupted"
    job = {"id": job_id, "action": spec["action"], "filter": spec["filter"], "by": spec["by"],
           "created_at": spec["created_at"], "updated_at": updated, "status": status,
           "total": total, "done": done, "counts": json.loads(raw.get("counts") or "{}")}
    if results:
        job["results"] = [json.loads(r) for r in
                          rt.redis.lrange(keys.bulk_results(job_id), 0, -1)]
    return job


def recent(rt: Bus, limit: int = 10) -> list[dict[str, Any]]:
    ids = [raw.decode() for raw in rt.redis.zrevrange(keys.BULK_JOBS, 0, limit - 1)]
    return [job for job in (get(rt, i, results=False) for i in ids) if job is not None]


def execute(rt: Bus, job_id: str,
            progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Act on the job's remaining runs, recording each outcome; returns the finished job.

    Refused while another executor holds the job (it is running elsewhere)."""
    job = get(rt, job_id, results=False)
    if job is None:
        raise NotFound(f"no bulk job {job_id!r} (jobs are kept {keys.BULK_TTL // 86400} days)")
    if job["status"] == "done":
        return get(rt, job_id) or job
    lock = Lock(rt.redis, keys.lock(f"bulk:{job_id}"), LOCK_LEASE)
    if not lock.acquire():
        raise BulkChanged(f"bulk job {job_id} is running elsewhere")
    spec = json.loads(rt.redis.hget(keys.bulk_job(job_id), "spec"))
    act = _cancel if spec["action"] == "cancel" else _replay
    try:
        with lock.keep_alive():
            done = int(rt.redis.hget(keys.bulk_job(job_id), "done") or 0)
            for run_id in spec["ids"][done:]:
                outcome = act(rt, run_id, spec["by"])
                _record(rt, job_id, outcome)
                if progress is not None:
                    progress(outcome)
            rt.redis.hset(keys.bulk_job(job_id), mapping={"status": "done",
                                                          "updated_at": time.time()})
    finally:
        lock.release()
    finished = get(rt, job_id)
    assert finished is not None
    return finished


def execute_in_background(rt: Bus, job_id: str) -> threading.Thread:
    """Execute the job in a thread (a greenlet under the gevent web workers); a failure leaves
    it interrupted, to be resumed."""
    def work() -> None:
        try:
            execute(rt, job_id)
        except Exception:
            log.exception("bulk job %s stopped", job_id)

    thread = threading.Thread(target=work, name=f"bulk-{job_id}", daemon=True)
    thread.start()
    return thread


def _record(rt: Bus, job_id: str, outcome: dict[str, Any]) -> None:
    key = keys.bulk_job(job_id)
    counts = json.loads(rt.redis.hget(key, "counts") or "{}")
    counts[outcome["outcome"]] = counts.get(outcome["outcome"], 0) + 1
    pipe = rt.redis.pipeline(transaction=True)
    pipe.rpush(keys.bulk_results(job_id), json.dumps(outcome))
    pipe.expire(keys.bulk_results(job_id), keys.BULK_TTL)
    pipe.hincrby(key, "done", 1)
    pipe.hset(key, mapping={"counts": json.dumps(counts), "updated_at": time.time()})
    pipe.execute()


def _cancel(rt: Bus, run_id: str, by: str) -> dict[str, Any]:
    try:
        before = rt.runs.status(run_id)
        if before is None or before in TERMINAL:
            return {"id": run_id, "outcome": "finished", "detail": f"already {before or 'gone'}"}
        done = cancel_run(rt, run_id, f"cancelled in bulk by {by}")
        return {"id": run_id, "outcome": "cancelled" if done.status == "cancelled"
                else "requested"}
    except JoelclawError as exc:
        return {"id": run_id, "outcome": "error", "detail": str(exc)}


def _replay(rt: Bus, run_id: str, by: str) -> dict[str, Any]:
    try:
        return {"id": run_id, "outcome": "replayed", "new": replay_run(rt, run_id).id}
    except JoelclawError as exc:
        return {"id": run_id, "outcome": "error", "detail": str(exc)}
