"""The attempts of a step, as its trace record keeps them.

The record's own fields describe the latest attempt (`attempts` is its number, with
`attempt_started_at`, `ended_at`, `status`, `error` and `worker`); `history` lists the earlier
attempts, each appended when it failed and a retry was scheduled, or when an execution found it
still "running" because the worker running it died. A step that succeeds at once has no
`history` at all: recording attempts costs nothing until there is a retry. `attempts_of` reads
both back as one list, the form every view shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.bus.records.runs import StepTrace

OPEN = frozenset({"running", "retrying", "sleeping", "waiting"})  # a step not over yet
EARLIER_STACK_CHARS = 2000  # an earlier attempt keeps the end of its traceback
LOST = {"name": "WorkerLost",
        "message": "this attempt never reported back: the worker running it stopped (killed, "
                   "out of memory, or lost its lease)"}


def entry(record: StepTrace | Mapping[str, Any], status: str, error: dict[str, Any] | None,
          ended_at: float | None, *, whole_stack: bool = False) -> dict[str, Any]:
    """The record's latest attempt as a history entry (its traceback shortened unless
    `whole_stack`)."""
    started = record.get("attempt_started_at") or record.get("started_at")
    item: dict[str, Any] = {"attempt": int(record.get("attempts") or 1), "status": status,
                            "started_at": started, "ended_at": ended_at,
                            "worker": record.get("worker")}
    if started is not None and ended_at is not None:
        item["execution_ms"] = round((ended_at - started) * 1000, 1)
    if error is not None:
        stack = error.get("stack") or ""
        item["error"] = error if whole_stack else {**error, "stack": stack[-EARLIER_STACK_CHARS:]}
    return item


def push(record: StepTrace | dict[str, Any], item: dict[str, Any]) -> None:
    record["history"] = [*record.get("history", ()), item]


def attempts_of(step: dict[str, Any]) -> list[dict[str, Any]]:
    """Every attempt of a step, oldest first: the earlier ones, then the latest (or, while a
    retry waits, the next one as `scheduled`). Steps that are not retried (sleeps, waits,
    invokes, parallel parents, canvases) have one attempt; a task step's tries are its Celery
    task's deliveries, listed with the task."""
    history = list(step.get("history") or ())
    status, number = step.get("status"), int(step.get("attempts") or 0)
    if status == "retrying":
        deferred = step.get("deferred") is not None  # a deferral spends no attempt
        if not deferred and (not history or history[-1].get("attempt") != number):
            history.append(entry(step, "failed", step.get("error"), step.get("ended_at")))
        history.append({"attempt": number + 1, "status": "deferred" if deferred else "scheduled",
                        "started_at": step.get("next_attempt_at"), "ended_at": None,
                        "worker": None})
        return history
    if step.get("type") in ("run", "send_event", "parallel.member") and not number:
        return history  # recorded but never started (a reused or seeded record)
    return [*history, entry(step, status or "unknown", step.get("error"),
                            None if status in OPEN else step.get("ended_at"), whole_stack=True)]
