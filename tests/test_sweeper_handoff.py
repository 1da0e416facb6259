"""A sweeper in a process behind the last reload hands a due run of a function it does not
know on to an up-to-date process (`removed.settle_unknown`: woken again shortly) instead of
publishing it; the sweeper must not then drop that hand-off with the run's safety entry, or
the run waits forever; real Redis."""

from __future__ import annotations

import time
from pathlib import Path

from joelclaw.bus.celery import Sweeper
from joelclaw.bus.records import codestate, wakeups
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import make_settings


def test_a_stale_sweeper_hands_a_due_run_on_and_keeps_it_scheduled(
        runtime: Runtime, tmp_path: Path, redis_url: str) -> None:
    [sent] = runtime.send(Event(name="test/steps"))
    run_id = sent.runs[0]
    stale = Runtime(make_settings(tmp_path / "stale", redis_url,
                                  function_modules=["tests.dedupe_functions"]))
    assert stale.function(runtime.runs.get(run_id).function) is None  # not its code
    newer = codestate.request(runtime.redis, "newer-code", [fn.id for fn in runtime.registry],
                              [], "test")  # a reload the stale process has not caught up with
    assert stale.code.version != newer.version
    wakeups.schedule(runtime.redis, {run_id: time.time() - 1})
    Sweeper(stale).tick()
    assert runtime.redis.zscore(wakeups.SETS.wakeups, run_id) is not None  # woken again soon
    assert runtime.redis.zscore(wakeups.SETS.outbox, run_id) is not None  # still watched
