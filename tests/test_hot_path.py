"""The durable hot path's promises that its shortcuts must keep (issue 21): a cancellation
requested during a step stops the run before the next step, leaving no trace of a step that
never started; an event's search terms, queued by the send and indexed in batches, are found by
a search made before any sweeper indexed them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from joelclaw import keys
from joelclaw.bus.control import cancel_run
from joelclaw.bus.delivery import leases
from joelclaw.events.index import search
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.support import gate_entered, open_gate, wait_for
from tests.test_bus_steps import counts, finished, start

pytestmark = pytest.mark.timeout(120)


def test_a_cancel_during_a_step_starts_nothing_after_it(runtime: Runtime, worker) -> None:
    run_id = start(runtime, "test/steps", hold="hot-cancel")
    wait_for(lambda: gate_entered(runtime.redis, "hot-cancel") == 1, 30, message="step two held")
    cancel_run(runtime, run_id, "enough")
    open_gate(runtime.redis, "hot-cancel")  # step two ends only after the request
    run = finished(runtime, run_id)
    assert run.status == "cancelled"
    assert counts(runtime, run_id) == {"one": 1, "two": 1}
    steps = {s.key: s.status for s in runtime.runs.steps(run_id)}
    assert steps == {"one": "completed", "two": "completed"}  # three was never started


def test_a_run_whose_holder_died_is_cancelled_at_once(runtime: Runtime) -> None:
    """cancel_run waits for an answer only from a live holder: the lease of a worker killed on
    this host is taken over and the run ends cancelled by the call itself."""
    run_id = start(runtime, "test/steps")  # no worker: it stays queued
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    runtime.redis.set(keys.lease(run_id), f"{leases.HOSTNAME}:{dead.pid}:gone", px=60_000)
    run = cancel_run(runtime, run_id, "enough")
    assert run.status == "cancelled"
    assert run.error is not None and run.error["message"] == "enough"
    assert runtime.redis.exists(keys.cancel_ask(run_id), keys.cancel_ack(run_id)) == 0


def test_a_holder_that_never_answers_is_waited_for_until_its_lease_lapses(
        runtime: Runtime) -> None:
    """A live process that holds the run but never learns of the cancellation (no renewer
    watches its lease: a stuck or unreachable worker) renews nothing either: cancel_run waits
    until its lease lapses, then cancels the run itself."""
    run_id = start(runtime, "test/steps")
    ttl_ms = int(runtime.settings.runs.lease_seconds * 1000)
    runtime.redis.set(keys.lease(run_id), f"{leases.HOSTNAME}:{os.getpid()}:silent", px=ttl_ms)
    run = cancel_run(runtime, run_id, "enough")
    assert run.status == "cancelled"
    assert run.error is not None and run.error["message"] == "enough"


def test_a_search_finds_events_sent_before_any_indexing(runtime: Runtime) -> None:
    sent = [runtime.send(Event(name="test/hot-search", data={"order_id": f"o-{i}",
                                                             "note": "parcel delayed"}))[0]
            for i in range(3)]
    assert runtime.redis.llen(keys.EVENT_INDEX_BACKLOG) == 3  # queued, nobody indexed them
    found = search(runtime.redis, "order_id=o-1")
    assert [r["event"]["id"] for r in found] == [sent[1].id]
    assert {r["event"]["id"] for r in search(runtime.redis, "parcel delayed")} \
        == {s.id for s in sent}
    assert runtime.redis.llen(keys.EVENT_INDEX_BACKLOG) == 0
    assert runtime.redis.ttl(keys.event_term("f:order_id=o-1")) > 0  # expires with the events
