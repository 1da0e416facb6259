"""singleton: at most one active run per key; mode skip drops the newcomer, mode cancel cancels
the active run and lets the newcomer run."""

from __future__ import annotations

import pytest

from tests.flow_helpers import all_finished, finished, start, status_is
from tests.support import open_gate, ready_together, wait_for
from tests.test_bus_steps import counts

pytestmark = pytest.mark.timeout(120)


def test_skip_mode(runtime, worker_factory):
    ready_together(*(worker_factory(concurrency=2, wait=False) for _ in range(2)))
    first = start(runtime, "test/single-skip", k="a", hold="a")
    status_is(runtime, first, "running")
    second = start(runtime, "test/single-skip", k="a")
    other_key = start(runtime, "test/single-skip", k="b", hold=0)
    all_finished(runtime, [second, other_key])  # while the first still runs
    open_gate(runtime.redis, "a")
    runs = all_finished(runtime, [first, second, other_key])
    assert [r.status for r in runs] == ["completed", "skipped", "completed"]
    assert first in runs[1].error["message"]
    later = finished(runtime, start(runtime, "test/single-skip", k="a", hold=0))
    assert later.status == "completed"  # the key is free once the first run ended


def test_cancel_mode(runtime, worker):
    first = start(runtime, "test/single-cancel", k="a", nap=600)  # only the newcomer ends it
    status_is(runtime, first, "sleeping")
    second = start(runtime, "test/single-cancel", k="a", nap=0)
    assert finished(runtime, second).status == "completed"
    old = finished(runtime, first, 5)
    assert old.status == "cancelled" and "singleton" in old.error["message"]
    assert counts(runtime, first) == {"before": 1}
    wait_for(lambda: counts(runtime, second) == {"before": 1, "after": 1}, 5, message="second")
