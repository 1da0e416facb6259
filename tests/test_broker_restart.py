"""A worker survives its broker restarting: kombu's Redis transport used to crash the worker
while it restored the messages it held (AttributeError on the connection info a lost
connection had dropped); joelclaw's transport keeps it (joelclaw.bus.celery.broker)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis
from kombu import Exchange, Queue

from joelclaw.embedded import RedisServer
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests import support
from tests.conftest import make_settings
from tests.support import WorkerProcess, gate_entered, open_gate, wait_for


def test_held_messages_are_restored_after_the_connection_was_collected(runtime: Runtime):
    # Given a worker-like consumer holding an unacknowledged message
    conn = runtime.celery.connection_for_read()
    channel = conn.channel()
    queue = Queue("t-restore", Exchange("t-restore", type="direct"), routing_key="t-restore",
                  channel=channel)
    queue.declare()
    with conn.Producer(channel=channel) as producer:
        producer.publish({"n": 1}, exchange=queue.exchange, routing_key="t-restore")
    assert queue.get(no_ack=False).payload == {"n": 1}
    # When the connection is lost: the consumer's connection is collected, which detaches the
    # transport from its connection info, and its channel is closed afterwards, which drops the
    # channel's pools before restoring what it held (the order seen in the crashed workers)
    conn._do_close_transport()
    channel.close()
    # Then the message is back in its queue for another worker, and nothing raised
    assert runtime.redis.llen("t-restore") == 1


@pytest.fixture
def own_redis(tmp_path: Path):
    server = RedisServer(tmp_path / "redis", binary=support.REDIS_SERVER)
    server.start()
    yield server
    server.stop()


def test_workers_reconnect_after_the_broker_is_killed_and_runs_complete(
    own_redis: RedisServer, tmp_path: Path
):
    settings = make_settings(tmp_path / "home", own_redis.url)
    rt = Runtime(settings)
    workers = [WorkerProcess(settings, tmp_path / f"w{i}.log", name=f"w{i}", queues="joelclaw",
                             concurrency=2).wait_ready() for i in range(2)]
    try:
        runs = [rt.send(Event(name="test/steps", data={"hold": "restart"}))[0].runs[0]
                for _ in range(12)]
        # every pool process holds a run in its second step: messages and leases held
        wait_for(lambda: gate_entered(rt.redis, "restart") >= 4, 60, message="4 steps held")
        # When Redis is SIGKILLed and comes back on the same port and data (AOF), once both
        # workers have lost their broker connection
        os.kill(own_redis.process.pid, signal.SIGKILL)
        own_redis.process.wait()
        wait_for(lambda: all("Connection to broker lost" in w.output() for w in workers), 60,
                 message="the workers noticing the broker gone")
        own_redis.start()
        open_gate(rt.redis, "restart")
        # Then every run completes, no finished step ran twice, and the workers are alive
        wait_for(lambda: all(rt.runs.status(r) == "completed" for r in runs), timeout=90,
                 message="every run completed after the broker restart")
        for run_id in runs:
            counts = [int(rt.redis.get(f"jc:test:count:{run_id}:{s}") or 0)
                      for s in ("one", "three")]
            assert counts == [1, 1], (run_id, counts)
        for worker in workers:
            assert worker.process.poll() is None, worker.output()[-2000:]
            assert "Unrecoverable error" not in worker.output()
    finally:
        for worker in workers:
            worker.stop()
        redis.Redis.from_url(own_redis.url).close()
