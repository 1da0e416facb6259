"""idempotency: at most one run per key per 24 h; the rest are recorded as skipped. The window's
end is simulated by deleting the key (as its 24 h expiry would), after checking its TTL."""

from __future__ import annotations

import pytest

from tests.flow_helpers import all_finished, send
from tests.support import ready_together

pytestmark = pytest.mark.timeout(120)


def test_one_run_per_key_within_the_window(runtime, worker_factory):
    ready_together(*(worker_factory(concurrency=2, wait=False) for _ in range(2)))
    ids = [send(runtime, "test/idem", user="u1")[0] for _ in range(5)]
    ids.append(send(runtime, "test/idem", user="u2")[0])
    runs = all_finished(runtime, ids)
    assert sum(r.status == "completed" for r in runs[:5]) == 1
    assert sum(r.status == "skipped" for r in runs[:5]) == 4
    assert runs[5].status == "completed"
    winner = next(r for r in runs[:5] if r.status == "completed")
    skipped = next(r for r in runs if r.status == "skipped")
    assert winner.id in skipped.error["message"] and "idempotency" in skipped.error["message"]
    ttl = runtime.redis.ttl("jc:flow:idem:t-idem:u1")
    assert 24 * 3600 - 60 < ttl <= 24 * 3600


def test_after_the_window_a_new_run_happens(runtime, worker):
    first = all_finished(runtime, send(runtime, "test/idem", user="w"))[0]
    assert first.status == "completed"
    assert all_finished(runtime, send(runtime, "test/idem", user="w"))[0].status == "skipped"
    runtime.redis.delete("jc:flow:idem:t-idem:w")  # what the 24 h expiry does
    assert all_finished(runtime, send(runtime, "test/idem", user="w"))[0].status == "completed"


def test_an_explicit_replay_is_not_skipped(runtime, worker):
    from joelclaw.bus.control import replay_run

    first = all_finished(runtime, send(runtime, "test/idem", user="r"))[0]
    assert first.status == "completed"
    again = replay_run(runtime, first.id)
    assert all_finished(runtime, [again.id])[0].status == "completed"
