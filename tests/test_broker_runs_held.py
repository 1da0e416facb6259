"""A run's broker message is held in its worker's memory, not in kombu's `unacked` record
(joelclaw.bus.celery.broker.RunsHeldInMemory): taking and acknowledging it write nothing to
Redis, and what a worker must give back (a requeue, a shutdown) still goes back to its queue.
Any other message keeps kombu's record. Real kombu consumers on the test Redis."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kombu import Exchange, Queue

from joelclaw import keys
from joelclaw.bus.celery import queues as broker_queues
from joelclaw.runtime import Runtime
from tests.support import gate_entered, open_gate, wait_for
from tests.test_bus_steps import finished, start

QUEUE = "t-held"
RUN_TASK = keys.FUNCTION_TASK_PREFIX + "t-steps"


@pytest.fixture
def channel(runtime: Runtime) -> Iterator[tuple[Any, Queue]]:
    """A worker-like consumer's channel on joelclaw's transport, with a declared queue."""
    conn = runtime.celery.connection_for_read()
    channel = conn.channel()
    queue = Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE, channel=channel)
    queue.declare()
    yield channel, queue
    conn.release()


def _publish(runtime: Runtime, channel: Any, queue: Queue, task: str, n: int) -> None:
    with runtime.celery.connection_for_write().Producer(channel=channel) as producer:
        producer.publish({"n": n}, exchange=queue.exchange, routing_key=QUEUE,
                         headers={"task": task})


def _queued(runtime: Runtime) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in runtime.redis.lrange(QUEUE, 0, -1)]


def test_a_runs_message_is_taken_and_acknowledged_without_a_record(runtime, channel):
    channel, queue = channel
    _publish(runtime, channel, queue, RUN_TASK, 1)
    _publish(runtime, channel, queue, "plain.task", 2)
    run = queue.get(no_ack=False)
    plain = queue.get(no_ack=False)
    assert run.payload == {"n": 1} and plain.payload == {"n": 2}
    # Only the plain task's message is recorded as held
    held = [json.loads(raw)[0] for raw in runtime.redis.hvals("unacked")]
    assert [m["headers"]["task"] for m in held] == ["plain.task"]
    assert runtime.redis.zcard("unacked_index") == 1
    run.ack()
    plain.ack()
    assert runtime.redis.hlen("unacked") == 0 and runtime.redis.zcard("unacked_index") == 0
    assert _queued(runtime) == []
    qos = channel.qos  # nothing held: kombu forgets acknowledged tags lazily
    assert not qos._runs and len(qos._delivered) == len(qos._dirty)


def test_a_requeued_runs_message_goes_back_to_its_queue(runtime, channel):
    channel, queue = channel
    _publish(runtime, channel, queue, RUN_TASK, 1)
    _publish(runtime, channel, queue, RUN_TASK, 2)
    first = queue.get(no_ack=False)
    assert first.payload == {"n": 1}
    first.reject(requeue=True)  # what a worker does with a task whose pool process died
    # Back behind the others, marked redelivered, as kombu requeues a message it recorded
    assert [m["headers"].get("redelivered") for m in _queued(runtime)] == [True, None]
    assert queue.get(no_ack=False).payload == {"n": 2}
    assert queue.get(no_ack=False).payload == {"n": 1}
    assert runtime.redis.hlen("unacked") == 0 and _queued(runtime) == []


def test_held_messages_go_back_when_the_channel_closes(runtime, channel):
    channel, queue = channel
    _publish(runtime, channel, queue, RUN_TASK, 1)
    _publish(runtime, channel, queue, "plain.task", 2)
    assert queue.get(no_ack=False) is not None
    assert queue.get(no_ack=False) is not None
    assert _queued(runtime) == []
    # A warm shutdown (or a lost connection) restores what the worker held
    channel.close()
    tasks = sorted(m["headers"]["task"] for m in _queued(runtime))
    assert tasks == sorted([RUN_TASK, "plain.task"])
    assert runtime.redis.hlen("unacked") == 0


def test_queues_count_a_run_its_worker_holds_as_executing(runtime: Runtime, worker) -> None:
    """Held in memory, a run's message is in no queue and not in `unacked`: `joelclaw queues`
    (and /metrics) count it among the executions in progress instead."""
    run_id = start(runtime, "test/steps", hold="held-queues")
    wait_for(lambda: gate_entered(runtime.redis, "held-queues") == 1, 30, message="step held")
    report = broker_queues.depths(runtime)
    assert report["executing"] == 1 and report["unacked"] == 0
    assert broker_queues.totals(report)[keys.FUNCTION_QUEUE] == 0
    open_gate(runtime.redis, "held-queues")
    assert finished(runtime, run_id).status == "completed"
    assert broker_queues.depths(runtime)["executing"] == 0
