"""A run that fails for good is a failed Celery task: its final execution emits `task-failed`
(what Flower's Failed tab and any Celery monitor read), earlier executions of the same run
(suspended for a step's retry) succeed, and the failed message is acknowledged: Celery neither
redelivers nor retries it, since retries are the run store's."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from joelclaw import keys
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.support import wait_for
from tests.test_bus_steps import counts, finished, start

pytestmark = pytest.mark.timeout(120)


class TaskEvents:
    """Every task event the workers send, captured by a real Celery event receiver."""

    def __init__(self, rt: Runtime):
        self.seen: list[dict[str, Any]] = []
        self.connection = rt.celery.connection_for_read()
        self.receiver = rt.celery.events.Receiver(self.connection, handlers={"*": self._add})
        self.thread = threading.Thread(target=self._capture, daemon=True)
        self.thread.start()

    def _add(self, event: dict[str, Any]) -> None:
        if event["type"].startswith("task-"):
            self.seen.append(event)

    def _capture(self) -> None:
        with contextlib.suppress(Exception):  # the connection closes under it at the end
            self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def close(self) -> None:
        self.receiver.should_stop = True
        self.thread.join(5)
        self.connection.release()


@pytest.fixture
def events(runtime: Runtime) -> Iterator[TaskEvents]:
    captured = TaskEvents(runtime)
    yield captured
    captured.close()


def enable_events(rt: Runtime, events: TaskEvents) -> None:
    """Ask the workers to send task events (as Flower does) until one is seen."""
    def flowing() -> bool:
        rt.celery.control.enable_events()
        finished(rt, start(rt, "test/steps"))
        return bool([e for e in events.seen if e["type"] == "task-succeeded"])

    wait_for(flowing, 30, interval=0.5, message="the worker sending task events")


def test_a_failed_run_is_a_failed_task_acknowledged_once(runtime: Runtime, worker, events):
    enable_events(runtime, events)
    run = finished(runtime, start(runtime, "test/nonretriable"))
    assert run.status == "failed"
    failed = wait_for(lambda: [e for e in events.seen if e["type"] == "task-failed"], 20,
                      message="task-failed")
    assert len(failed) == 1
    assert "RunFailed" in failed[0]["exception"] and run.id in failed[0]["exception"]
    received = [e for e in events.seen if e["type"] == "task-received"
                and e["uuid"] == failed[0]["uuid"]]
    assert received and run.id in received[0]["args"]
    # Acknowledged: nothing left in the broker or unacked, and never run again.
    wait_for(lambda: runtime.redis.hlen("unacked") == 0, 10, message="the ack")
    assert runtime.redis.llen(keys.FUNCTION_QUEUE) == 0
    assert counts(runtime, run.id) == {"boom": 1}
    assert runtime.runs.get(run.id).executions == 1


def test_only_the_final_execution_of_a_retried_run_fails(runtime: Runtime, worker, events):
    enable_events(runtime, events)
    ours_before = {e["uuid"] for e in events.seen}
    run = finished(runtime, start(runtime, "test/flaky", failures=10))
    assert run.status == "failed" and run.executions == 4
    failed = wait_for(lambda: [e for e in events.seen if e["type"] == "task-failed"], 20,
                      message="task-failed")
    assert len(failed) == 1 and run.id in failed[0]["exception"]
    succeeded = [e for e in events.seen if e["type"] == "task-succeeded"
                 and e["uuid"] not in ours_before]
    assert len(succeeded) >= 3  # the executions that suspended for the step's retries
    wait_for(lambda: runtime.redis.hlen("unacked") == 0, 10, message="the ack")
    assert counts(runtime, run.id)["flaky"] == 4


def test_a_completed_run_still_succeeds(runtime: Runtime, worker, events):
    enable_events(runtime, events)
    [sent] = runtime.send(Event(name="test/steps"))
    assert finished(runtime, sent.runs[0]).status == "completed"
    assert not [e for e in events.seen if e["type"] == "task-failed"]
