"""rate_limit: limit 3 per 60 s per key → exactly the excess runs are skipped, with a reason."""

from __future__ import annotations

import pytest

from tests.flow_helpers import all_finished, send
from tests.support import ready_together, wait_for

pytestmark = pytest.mark.timeout(120)


def test_exact_skip_count_across_two_workers(runtime, worker_factory):
    ready_together(*(worker_factory(concurrency=3, wait=False) for _ in range(2)))
    ids = [send(runtime, "test/rate", user="u1")[0] for _ in range(10)]
    ids += [send(runtime, "test/rate", user="u2")[0] for _ in range(4)]
    runs = all_finished(runtime, ids, timeout=40)
    by_user = {"u1": runs[:10], "u2": runs[10:]}
    assert sum(r.status == "completed" for r in by_user["u1"]) == 3
    assert sum(r.status == "skipped" for r in by_user["u1"]) == 7
    assert sum(r.status == "completed" for r in by_user["u2"]) == 3
    assert sum(r.status == "skipped" for r in by_user["u2"]) == 1
    skipped = next(r for r in runs if r.status == "skipped")
    assert skipped.error["name"] == "Skipped" and "rate limit" in skipped.error["message"]
    assert runtime.runs.steps(skipped.id) == []  # a skipped run never ran a step


def test_the_period_ends(runtime, worker):
    ids = [send(runtime, "test/rate", user="p")[0] for _ in range(4)]
    runs = all_finished(runtime, ids)
    assert sum(r.status == "skipped" for r in runs) == 1
    runtime.redis.pexpire("jc:flow:rate:t-rate:p", 1)  # the 60 s period, fast-forwarded
    # and over before the next send: a run sent and admitted within that millisecond (seen on
    # a fast machine) would still count against it
    wait_for(lambda: not runtime.redis.exists("jc:flow:rate:t-rate:p"), 10,
             message="the period's key gone")
    again = all_finished(runtime, [send(runtime, "test/rate", user="p")[0]])
    assert again[0].status == "completed"
