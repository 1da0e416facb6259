"""priority: under a backlog of 1,000 low-priority runs, a high-priority run published last
starts within the next few runs (broker priority 0 on Redis), not after the backlog."""

from __future__ import annotations

import pytest

from joelclaw.events.model import Event
from tests.support import wait_for

pytestmark = pytest.mark.timeout(180)
BACKLOG = 1000


def test_high_priority_run_jumps_a_backlog(runtime, worker_factory):
    for i in range(BACKLOG):
        runtime.send(Event(name="test/prio", data={"i": i, "vip": False}))
    vip = runtime.send(Event(name="test/prio", data={"i": -1, "vip": True}))[0].runs[0]
    assert runtime.runs.get(vip).priority == 0
    # One pool process, so the order recorded is the order the broker handed the runs out:
    # with two, the vip and run 0 arrive together and a busy machine can hold the vip's
    # process back while the other records runs 0-5 (seen under load).
    worker_factory(concurrency=1)
    wait_for(lambda: runtime.redis.llen("jc:test:prio-order") >= 20, 60, message="20 runs")
    order = [int(x) for x in runtime.redis.lrange("jc:test:prio-order", 0, -1)]
    assert -1 in order[:6], order[:20]
