"""The event log's cap forgets capped events whole: their records and the finished runs they
started go with their log entries (a flood of events cannot fill Redis for the 7 days events
live), while a run still in progress stays."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from joelclaw import keys
from joelclaw.bus.celery import Sweeper
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.support import WorkerProcess, wait_for

pytestmark = pytest.mark.timeout(120)
CAP = 100


def test_capped_events_take_their_records_and_finished_runs_with_them(
    settings: Settings, worker_factory: Callable[..., WorkerProcess]
) -> None:
    capped = settings.with_overrides(event_log_cap=CAP)
    worker_factory(settings_override=capped)
    rt = Runtime(capped)
    # Given a run that keeps sleeping, then more finished events than the cap
    [sleeper] = rt.send(Event(name="test/sleep", id="evt-sleeper", data={"seconds": 600}))
    sent = [rt.send(Event(name="test/steps", id=f"evt-{n:03d}"))[0] for n in range(CAP + 20)]
    finished_runs = [r for s in sent for r in s.runs]
    wait_for(lambda: all(s == "completed" for s in rt.runs.statuses(finished_runs)),
             timeout=90, message="every run finished")
    wait_for(lambda: rt.runs.status(sleeper.runs[0]) == "sleeping", message="the sleeper")
    # When the sweeper prunes
    rt.redis.delete(keys.RETENTION_LOCK)
    Sweeper(rt).prune()
    # Then the log holds the cap, and what fell off is gone whole
    assert rt.redis.zcard(keys.EVENT_LOG) == CAP
    gone = ["evt-sleeper", *(f"evt-{n:03d}" for n in range(20))]
    assert not any(rt.redis.exists(keys.event(event_id)) for event_id in gone)
    early = [r for s in sent[:20] for r in s.runs]
    assert rt.runs.statuses(early) == [None] * len(early)
    indexed = set(rt.runs.newest_ids(limit=1000))
    assert not indexed & set(early) and sleeper.runs[0] in indexed
    # And what is still in progress stays, and the newest events keep everything
    assert rt.runs.status(sleeper.runs[0]) == "sleeping"
    assert rt.redis.exists(keys.event(f"evt-{CAP + 19:03d}"))
    assert rt.runs.status(sent[-1].runs[0]) == "completed"
