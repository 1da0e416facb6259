"""Kill tests: a worker killed in the middle of a multi-step run loses no run and repeats no
finished step, and the run resumes within 60 s (not after Celery's one-hour visibility timeout,
which is when plain Celery on Redis would redeliver it)."""

from __future__ import annotations

import json
import time

import pytest

from joelclaw import keys
from joelclaw.bus.celery import queues
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.support import gate_entered, lapse_probe, lapsed, open_gate, wait_for
from tests.test_bus_steps import counts, finished, start

pytestmark = pytest.mark.timeout(150)
RESUME_WITHIN = 60.0


def holder_pid(runtime, run_id: str) -> int:
    """The pid in the run's lease token is the process executing it."""
    token = wait_for(lambda: runtime.redis.get(keys.lease(run_id)), 10, message="lease")
    return int(token.decode().split(":")[1])


def test_sigkill_of_a_pool_process_resumes_the_run(runtime, worker):
    run_id = start(runtime, "test/steps", hold="two")
    wait_for(lambda: gate_entered(runtime.redis, "two") == 1, 30, message="step two held")
    pid = holder_pid(runtime, run_id)
    assert pid in [p.pid for p in worker.children()]
    worker.kill_child(pid)
    open_gate(runtime.redis, "two")  # the next attempt of step two goes through
    run = finished(runtime, run_id, timeout=RESUME_WITHIN)
    assert run.status == "completed"
    # step one finished before the kill and is not repeated; step two had not finished
    assert counts(runtime, run_id) == {"one": 1, "two": 2, "three": 1}
    # The trace keeps the killed attempt: it never reported back, then attempt 2 completed.
    two = runtime.runs.step(run_id, "two")
    assert two is not None and two.attempts == 2 and two.status == "completed"
    [lost] = two.history
    assert lost["attempt"] == 1 and lost["status"] == "lost" and lost["ended_at"] is None
    assert lost["error"]["name"] == "WorkerLost" and lost["worker"].startswith("w0@")


def test_sigkill_of_the_whole_worker_resumes_on_a_new_worker(runtime, worker_factory):
    first = worker_factory()
    run_id = start(runtime, "test/steps", hold="two")
    wait_for(lambda: gate_entered(runtime.redis, "two") == 1, 30, message="step two held")
    first.kill_all()
    open_gate(runtime.redis, "two")
    assert runtime.runs.status(run_id) == "running"
    worker_factory()
    run = finished(runtime, run_id, timeout=RESUME_WITHIN)
    assert run.status == "completed"
    assert counts(runtime, run_id) == {"one": 1, "two": 2, "three": 1}


def test_queued_runs_survive_a_worker_killed_with_them_prefetched(runtime, worker_factory):
    first = worker_factory(concurrency=1)
    ids = [start(runtime, "test/steps", hold="queued") for _ in range(6)]
    wait_for(lambda: gate_entered(runtime.redis, "queued") == 1, 30, message="one run held")
    first.kill_all()
    open_gate(runtime.redis, "queued")
    worker_factory(concurrency=2)
    for run_id in ids:
        run = finished(runtime, run_id, timeout=RESUME_WITHIN)
        assert run.status == "completed"
        assert counts(runtime, run_id)["one"] == 1 and counts(runtime, run_id)["three"] == 1


def test_step_longer_than_the_visibility_timeout_runs_once_while_its_worker_lives(
    runtime, settings, worker_factory
):
    # A visibility timeout of 2 s, restore scans every second: kombu would give a message it
    # records as held back to the broker while its task still runs.
    short = settings.with_overrides(visibility_timeout=2, unacked_restore_seconds=1)
    workers = [worker_factory(settings_override=short) for _ in range(2)]
    run_id = runtime.send(Event(name="test/long-step", data={"hold": "long"}))[0].runs[0]
    wait_for(lambda: gate_entered(runtime.redis, "long") == 1, 30, message="the step held")
    # A run's message is held in its worker's memory, not in kombu's record: nothing for the
    # broker to redeliver (joelclaw.bus.celery.broker)
    assert runtime.redis.hlen("unacked") == 0 and runtime.redis.zcard("unacked_index") == 0

    def deliveries() -> int:
        return sum(w.output().count("t-long-step[") for w in workers)

    # Deliveries of the running run all the same (what a redelivery or a second publish is)
    runtime.publish(run_id)
    runtime.publish(run_id)
    wait_for(lambda: deliveries() >= 3, 60, message="the duplicates delivered")
    open_gate(runtime.redis, "long")
    run = finished(runtime, run_id, timeout=40)
    assert run.status == "completed"
    assert counts(runtime, run_id) == {"long": 1}
    assert gate_entered(runtime.redis, "long") == 1  # no duplicate entered the step


def test_a_lease_held_by_a_dead_worker_on_another_host_expires_and_the_run_resumes(
    runtime, worker
):
    # Given a run whose lease belongs to a worker on another machine that died mid-run
    run_id = runtime.send(Event(name="test/sleep", data={"seconds": 0}))[0].runs[0]
    finished(runtime, run_id)
    runtime.runs.update(run_id, status="running", ended_at=None)
    runtime.redis.hdel(keys.run(run_id), "m:after")
    runtime.redis.set(keys.lease(run_id), "elsewhere:1:dead", px=2000)
    runtime.redis.zadd(keys.LEASES, {run_id: time.time() + 2})
    # When the lease expires, the sweeper wakes the run and it finishes its last step
    run = finished(runtime, run_id, timeout=20)
    assert run.status == "completed"
    assert counts(runtime, run_id) == {"before": 1, "after": 2}


def test_a_new_worker_on_the_same_host_takes_over_at_once(runtime, worker_factory, settings):
    # Given the production lease (20 s) and a run in its second step on a worker of this host
    long_lease = settings.with_overrides(run_lease_seconds=20.0)
    first = worker_factory(settings_override=long_lease)
    run_id = start(runtime, "test/steps", hold="two")
    wait_for(lambda: gate_entered(runtime.redis, "two") == 1, 30, message="step two held")
    # When the whole worker is SIGKILLed and a new worker starts on this host
    first.kill_all()
    lapses = lapse_probe(runtime.redis, keys.lease(run_id), "dead-lease")
    open_gate(runtime.redis, "two")
    worker_factory(settings_override=long_lease)
    # Then the run resumes before the dead holder's lease would have expired
    run = finished(runtime, run_id, timeout=RESUME_WITHIN)
    assert run.status == "completed"
    assert not lapsed(runtime.redis, lapses), "the dead holder's lease was waited out"
    assert counts(runtime, run_id) == {"one": 1, "two": 2, "three": 1}


def test_a_message_a_killed_worker_took_with_it_is_published_again_at_once(
    settings, worker_factory
):
    # Given an outbox grace far longer than the test, so that only noticing the death helps,
    # and a worker of this host that stamped its presence (host and pid), SIGKILLed
    patient = settings.with_overrides(outbox_grace_seconds=3600.0)
    rt = Runtime(patient)
    first = worker_factory(settings_override=patient)
    wait_for(lambda: any(json.loads(raw).get("pid") == first.process.pid
                         for raw in rt.redis.hvals(keys.WORKERS_SEEN)), 30,
             message="the worker's presence stamp")
    first.kill_all()
    # And a run whose message the dead worker's waiting BRPOP took: Redis hands the next
    # message pushed to the queue to a killed worker's connection still open, and kombu
    # records a message as held (unacked) only once it has read it, so the message is nowhere
    names = queues.queue_names(rt)
    run_id = start(rt, "test/steps")
    assert run_id in queues.waiting_targets(rt, names)
    lists = [k for k in rt.redis.scan_iter(f"{keys.FUNCTION_QUEUE}*")
             if rt.redis.type(k) == b"list"]
    assert rt.redis.brpop(lists, timeout=5) is not None
    assert run_id not in queues.waiting_targets(rt, names)
    assert rt.redis.zscore(keys.OUTBOX, run_id) is not None  # published, not begun
    # When a new worker starts on this host
    worker_factory(settings_override=patient)
    # Then it notices the death and publishes the run again, long before the outbox's grace
    run = finished(rt, run_id, timeout=RESUME_WITHIN)
    assert run.status == "completed"
    assert counts(rt, run_id) == {"one": 1, "two": 1, "three": 1}
