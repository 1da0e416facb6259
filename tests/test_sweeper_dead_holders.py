"""A run whose lease a dead process of this host holds is woken at once (its next execution
takes the lease over), but only once while its message waits behind a backlog: the sweeper
looks every second, and waking it at each look added a message per second. Real Redis, a
sweeper driven by hand, no worker (the backlog)."""

from __future__ import annotations

import subprocess
import sys
import time

from joelclaw import keys
from joelclaw.bus.celery import Sweeper, queues
from joelclaw.bus.delivery import leases
from joelclaw.bus.records import wakeups
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime


def _messages_of(rt: Runtime, run_id: str) -> int:
    options = dict(rt.celery.conf.broker_transport_options or {})
    found = queues.messages(rt.redis, queues.queue_names(rt), options)
    return sum(1 for raw in found if queues._target_of(raw) == run_id)


def test_a_run_held_by_a_dead_local_process_is_published_once_while_it_waits(runtime):
    # Given a run that began on a process of this host that is gone now, its lease still held
    [sent] = runtime.send(Event(name="test/steps"))
    run_id = sent.runs[0]
    for key in runtime.redis.scan_iter(f"{keys.FUNCTION_QUEUE}*"):
        if runtime.redis.type(key) == b"list":
            runtime.redis.delete(key)  # its first message was taken by that process
    runtime.redis.zrem(wakeups.SETS.outbox, run_id)  # and its execution began
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    runtime.redis.set(keys.lease(run_id), f"{leases.HOSTNAME}:{gone.pid}:dead", px=60_000)
    runtime.redis.zadd(keys.LEASES, {run_id: time.time() + 60})
    sweeper = Sweeper(runtime)
    # When the sweeper looks again and again while no worker takes the message (a backlog)
    woken = []
    for _ in range(3):
        woken.append(sweeper.revive_dead_local_holders(time.time()))
        sweeper.tick()
    # Then the run was woken and published once, and is watched until it begins
    assert woken == [1, 0, 0]
    assert _messages_of(runtime, run_id) == 1
    assert runtime.redis.zscore(wakeups.SETS.outbox, run_id) is not None
