"""Paged run listings with a stable cursor, for views that page back through many runs.

The cursor is the index score (ms) of the last run shown plus how many runs with that same
score were shown, so runs created in the same millisecond (one event fanning out) are neither
skipped nor repeated across pages. Listing itself is `RunStore.list`: filters by function and
time use the indexes; status and event-name filters are applied while scanning (see its docs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.records import Run

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime


@dataclass(frozen=True)
class Cursor:
    score_ms: int
    seen: int  # runs with this score already shown

    def encode(self) -> str:
        return f"{self.score_ms}.{self.seen}"

    @classmethod
    def decode(cls, text: str) -> Cursor:
        """Raises ValueError for anything that is not `<ms>.<n>`."""
        score, _, seen = text.partition(".")
        if not score.isdigit() or not seen.isdigit() or len(score) > 15 or len(seen) > 6:
            raise ValueError(f"not a run cursor: {text[:40]!r}")
        return cls(int(score), int(seen))


@dataclass
class RunPage:
    runs: list[Run]
    next_cursor: str | None


def page_runs(
    rt: Runtime, *, function: str | None = None, statuses: Sequence[str] | None = None,
    event_name: str | None = None, since: float | None = None, until: float | None = None,
    cursor: Cursor | None = None, size: int = 50, scan_limit: int = 20000,
) -> RunPage:
    """One page of runs, newest first, and the cursor of the next page (None at the end)."""
    skip = 0
    if cursor is not None:
        boundary = (cursor.score_ms + 0.5) / 1000  # inclusive of the cursor's millisecond
        until = boundary if until is None else min(until, boundary)
        skip = cursor.seen
    found = rt.runs.list(function=function, status=statuses, since=since, until=until,
                         event_name=event_name, limit=size + skip + 1, scan_limit=scan_limit)
    scores = _scores(rt, function, [r.id for r in found])
    if cursor is not None:
        dropped = 0
        while dropped < skip and found and scores[0] == cursor.score_ms:
            found.pop(0)
            scores.pop(0)
            dropped += 1
    more = len(found) > size
    shown, shown_scores = found[:size], scores[:size]
    if not more or not shown:
        return RunPage(shown, None)
    last = shown_scores[-1]
    same = sum(1 for s in shown_scores if s == last)
    if cursor is not None and last == cursor.score_ms:
        same += skip
    return RunPage(shown, Cursor(last, same).encode())


def _scores(rt: Runtime, function: str | None, run_ids: list[str]) -> list[int]:
    index = keys.runs_of_function(function) if function else keys.RUN_INDEX
    pipe = rt.redis.pipeline(transaction=False)
    for run_id in run_ids:
        pipe.zscore(index, run_id)
    return [int(s) if s is not None else -1 for s in pipe.execute()] if run_ids else []


def run_row(run: Run) -> dict[str, Any]:
    """A run in a listing: its summary plus where it came from."""
    return {**run.summary(), "replay_of": run.replay_of, "trigger": run.trigger}
