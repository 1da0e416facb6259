"""A run's statuses, in their own module so a caller that only names them (the CLI's options)
imports nothing else.

`RunStatus` is a str enum: a member equals (and hashes as) its string, so the stored hash field,
the JSON of the API and the Lua scripts keep the plain words ('completed'), and code that
compares with a string keeps working while new code names the member.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SLEEPING = "sleeping"  # a durable sleep: no worker slot held
    WAITING = "waiting"  # for an event, an invoked run, a parallel group or a plain task
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"  # a flow limit (rate limit, singleton, idempotency) dropped it

    @property
    def terminal(self) -> bool:
        """Finished for good: nothing more runs and its record expires with the retention."""
        return self in TERMINAL


STATUSES: tuple[str, ...] = tuple(status.value for status in RunStatus)
TERMINAL: frozenset[str] = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED,
                                      RunStatus.SKIPPED})
