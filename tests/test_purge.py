"""A run's broker message is a delivery, not the run: a backlog older than the safety wake-up
is not published twice, and `celery purge` (which deletes messages, not runs) leaves no run
queued forever: the sweeper publishes a queued run again when its message is gone."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from joelclaw import keys
from joelclaw.bus.celery import queues
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import REPO, env_for, wait_for

RUNS = 40


def _setup(tmp_path, redis_url, worker_factory):  # type: ignore[no-untyped-def]
    # A worker that consumes another queue: its sweeper runs, nothing takes the runs yet
    settings = make_settings(tmp_path / "home", redis_url, outbox_grace_seconds=GRACE)
    worker_factory(queues="other", settings_override=settings)
    rt = Runtime(settings)
    runs = [rt.send(Event(name="test/steps"))[0].runs[0] for _ in range(RUNS)]
    return settings, rt, runs


GRACE = 1.0  # outbox_grace_seconds


def _checked_twice_since(rt: Runtime, runs: list[str], since: float) -> None:
    """Wait until the sweeper has looked at every run's outbox entry at least twice after
    `since`: each look that finds the message still queued sets the entry's due time to the
    look's time plus the grace, so a settled score of `since` + 3 graces or more means a look at
    `since` + 2 graces or later (and a claimed entry, mid-look, is not counted)."""
    def settled_after() -> bool:
        scores = [rt.redis.zscore(keys.OUTBOX, r) for r in runs]
        now = time.time()
        return all(s is not None and since + 3 * GRACE <= s <= now + GRACE + 0.5
                   for s in scores)

    wait_for(settled_after, 60, interval=0.1, message="every outbox entry checked twice")


def _depth(rt: Runtime) -> int:
    return queues.totals(queues.depths(rt))["joelclaw"]


def test_a_backlog_older_than_the_safety_net_is_not_published_twice(
    tmp_path, redis_url, worker_factory
):
    settings, rt, runs = _setup(tmp_path, redis_url, worker_factory)
    assert _depth(rt) == RUNS
    _checked_twice_since(rt, runs, time.time())  # each found its message and waited
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
    _checked_twice_since(rt, runs, time.time())  # and then only waited
    assert _depth(rt) == RUNS
    worker_factory(settings_override=settings)
    wait_for(lambda: all(rt.runs.status(r) == "completed" for r in runs), 60,
             message="the purged runs completed")
    assert [int(rt.redis.get(f"jc:test:count:{r}:one") or 0) for r in runs] == [1] * RUNS


def test_runs_held_by_a_worker_that_died_before_starting_them_are_published_again(
    tmp_path, redis_url, worker_factory
):
    """A worker SIGKILLed between taking a message and beginning its run leaves the message in
    `unacked` until the visibility timeout (hours): counted as still in the broker, the run
    stayed queued that long (chaos: one run queued 10 minutes). Held longer than the grace, it
    is published again, and the run completes once."""
    settings, rt, runs = _setup(tmp_path, redis_url, worker_factory)
    # What kombu does as a worker takes a message: into `unacked` with its delivery time, out of
    # the queue's list. The worker is gone: nothing acknowledges or restores them.
    taken = time.time() - 10 * GRACE
    pipe = rt.redis.pipeline()
    for key in queues._list_keys(["joelclaw"], queues.broker_options(rt)):
        for index, raw in enumerate(rt.redis.lrange(key, 0, -1)):
            tag = f"dead-{key}-{index}"
            pipe.hset("unacked", tag, json.dumps([json.loads(raw), "", "joelclaw"]))
            pipe.zadd("unacked_index", {tag: taken})
        pipe.delete(key)
    pipe.execute()
    assert _depth(rt) == 0 and rt.redis.hlen("unacked") == RUNS
    # within the grace, each run's message is published again, once
    wait_for(lambda: _depth(rt) == RUNS, 20, message="the held runs published again")
    _checked_twice_since(rt, runs, time.time())
    assert _depth(rt) == RUNS
    worker_factory(settings_override=settings)
    wait_for(lambda: all(rt.runs.status(r) == "completed" for r in runs), 60,
             message="the held runs completed")
    assert [int(rt.redis.get(f"jc:test:count:{r}:one") or 0) for r in runs] == [1] * RUNS
