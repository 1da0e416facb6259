"""Celery's own controls act on runs: `celery control revoke <task id>` on an execution cancels
its run at the next step boundary, and `celery control terminate` records the run as cancelled
(terminated), not as a worker that died and used up an attempt."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from joelclaw.runtime import Runtime
from tests.support import REPO, env_for, gate_entered, open_gate, wait_for
from tests.test_bus_steps import counts, finished, start

pytestmark = pytest.mark.timeout(120)


def _active_task_id(rt: Runtime, run_id: str) -> str:
    def find() -> str | None:
        active: dict[str, list[dict[str, Any]]] = rt.celery.control.inspect(timeout=1).active() \
            or {}
        for tasks in active.values():
            for task in tasks:
                if (task.get("args") or [None])[0] == run_id:
                    return str(task["id"])
        return None

    return wait_for(find, 20, interval=0.2, message=f"an active execution of {run_id}")


def _control(settings: Any, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "celery", "-A", "joelclaw.worker", "control",
                           *args], cwd=REPO, env=env_for(settings), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_revoke_cancels_the_run_after_its_current_step(runtime, worker, settings):
    run_id = start(runtime, "test/steps", hold="revoke")
    wait_for(lambda: gate_entered(runtime.redis, "revoke") == 1, 30, message="step two held")
    _control(settings, "revoke", _active_task_id(runtime, run_id))
    wait_for(lambda: runtime.runs.cancel_reason(run_id), 30, message="the revoke noticed")
    open_gate(runtime.redis, "revoke")  # step two ends only now, whatever the machine's speed
    run = finished(runtime, run_id, timeout=30)
    assert run.status == "cancelled"
    assert "revoked by celery control" in run.error["message"]
    assert counts(runtime, run_id) == {"one": 1, "two": 1}  # step two finished, three never ran


def test_terminate_is_a_cancellation_not_a_dead_worker(runtime, worker, settings):
    run_id = start(runtime, "test/steps", hold="terminate")  # never opened: only the kill ends it
    wait_for(lambda: gate_entered(runtime.redis, "terminate") == 1, 30, message="step two held")
    _control(settings, "terminate", "SIGTERM", _active_task_id(runtime, run_id))
    run = finished(runtime, run_id, timeout=30)
    assert run.status == "cancelled"
    assert "terminated by celery control" in run.error["message"]
    assert run.attempts == 0
    assert counts(runtime, run_id) == {"one": 1, "two": 1}  # not retried
