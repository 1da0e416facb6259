"""Run heads: a few fields of many runs in one round trip, read by the run store (which owns
the encoding), and pages of the run index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from joelclaw.bus.records import Run

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

HEAD_FIELDS = ("id", "function", "status", "trigger", "created_at", "started_at", "ended_at",
               "attempts", "replay_of")


def run_heads(rt: Bus, run_ids: Sequence[str],
              fields: Sequence[str] = HEAD_FIELDS) -> list[Run | None]:
    """The named fields of each run (None for a run that expired), in the order given."""
    return rt.runs.heads(list(run_ids), fields)


def index_page(rt: Bus, function: str | None, since: float | None, limit: int) -> list[str]:
    """The newest run ids (of one function, or all), since a time, newest first."""
    return rt.runs.newest_ids(function=function, since=since, limit=limit)
