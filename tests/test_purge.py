"""A run's broker message is a delivery, not the run: a backlog older than the safety wake-up
is not published twice, and `celery purge` (which deletes messages, not runs) leaves no run
queued forever: the sweeper publishes a queued run again when its message is gone."""

from __future__ import annotations

import subprocess
import sys
import time

from joelclaw.bus.celery import queues
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import REPO, env_for, wait_for

RUNS = 40


def _setup(tmp_path, redis_url, worker_factory):  # type: ignore[no-untyped-def]
    # A worker that consumes another queue: its sweeper runs, nothing takes the runs yet
    settings = make_settings(tmp_path / "home", redis_url, outbox_grace_seconds=1.0)
    worker_factory(queues="other", settings_override=settings)
    rt = Runtime(settings)
    runs = [rt.send(Event(name="test/steps"))[0].runs[0] for _ in range(RUNS)]
    return settings, rt, runs


def _depth(rt: Runtime) -> int:
    return queues.totals(queues.depths(rt))["joelclaw"]


def test_a_backlog_older_than_the_safety_net_is_not_published_twice(
    tmp_path, redis_url, worker_factory
):
    settings, rt, runs = _setup(tmp_path, redis_url, worker_factory)
    assert _depth(rt) == RUNS
    time.sleep(4)  # four safety periods: each run's wake-up came due, found its message, waited
    assert _depth(rt) == RUNS
    worker_factory(settings_override=settings)
    wait_for(lambda: all(rt.runs.status(r) == "completed" for r in runs), 60,
             message="the backlog completed")
    assert [int(rt.redis.get(f"jc:test:count:{r}:one") or 0) for r in runs] == [1] * RUNS
    assert _depth(rt) == 0


def test_runs_whose_messages_were_purged_are_published_again(tmp_path, redis_url,
                                                             worker_factory):
    settings, rt, runs = _setup(tmp_path, redis_url, worker_factory)
    purge = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "joelclaw.worker", "purge", "-f", "-Q",
         "joelclaw"], cwd=REPO, env=env_for(settings), capture_output=True, text=True,
        timeout=60)
    assert purge.returncode == 0, purge.stderr
    assert f"Purged {RUNS} messages" in purge.stdout  # every message was gone at once
    assert all(rt.runs.status(r) == "queued" for r in runs)
    # Then, within the safety period, each run's message is published again, once
    wait_for(lambda: _depth(rt) == RUNS, 20, message="the purged runs published again")
    time.sleep(3)
    assert _depth(rt) == RUNS
    worker_factory(settings_override=settings)
    wait_for(lambda: all(rt.runs.status(r) == "completed" for r in runs), 60,
             message="the purged runs completed")
    assert [int(rt.redis.get(f"jc:test:count:{r}:one") or 0) for r in runs] == [1] * RUNS
