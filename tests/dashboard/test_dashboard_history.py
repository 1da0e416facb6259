"""The run page says what happened, in a real headless chromium on a real gunicorn with real
workers: each attempt of a step (error, worker, times), executions apart from step attempts, a
matched wait completed with its event and no stale deadline, a cancelled sleep not sleeping, a
`step.task` step's Celery task linked to Flower."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from joelclaw.bus.control import cancel_run
from joelclaw.bus.execution import base_id, task_id
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.dashboard.conftest import DASH_MODULES, dash_settings
from tests.dashboard.looks import keep_screenshot
from tests.flow_helpers import finished
from tests.support import WorkerProcess, ready_together, wait_for

pytestmark = pytest.mark.timeout(180)
FLOWER = "http://127.0.0.1:5598"


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return dash_settings(tmp_path / "home", redis_url, flower_url=FLOWER,
                         function_modules=[*DASH_MODULES, "tests.canvas_functions"])


def send(rt: Runtime, name: str, **data: Any) -> str:
    return rt.send(Event(name=name, data=data))[0].runs[0]


def test_a_failed_step_shows_each_attempt_and_no_next_one(
    early_worker: WorkerProcess, page: Any, runtime: Runtime, screenshot_dir: Path
) -> None:
    early_worker.wait_ready()
    run_id = send(runtime, "test/flaky", failures=10)
    assert finished(runtime, run_id).status == "failed"
    page.goto(f"/runs/{run_id}")
    assert page.locator('tr[data-step="flaky"] [data-tries]').inner_text() == "4"
    assert page.locator("[data-executions]").inner_text() == "4"
    assert page.locator("[data-step-attempts]").inner_text() == "5"
    assert page.locator("[data-function-retries]").inner_text() == "0"
    detail = page.locator('[data-step-detail="flaky"]')
    rows = detail.locator("[data-attempt]")
    assert rows.count() == 4
    for n in range(4):
        row = rows.nth(n)
        assert row.get_attribute("data-status") == "failed"
        assert "RuntimeError: not yet" in row.inner_text() and "w0@" in row.inner_text()
    assert "next attempt" not in detail.inner_text()
    assert page.locator("[data-execution]").count() == 4
    keep_screenshot(page, screenshot_dir / "run-attempts.png")
    assert page.console_errors == []


def test_a_matched_wait_is_completed_with_its_event_and_no_deadline(
    early_worker: WorkerProcess, page: Any, runtime: Runtime
) -> None:
    early_worker.wait_ready()
    run_id = send(runtime, "test/wait", key="o-77", timeout=3600)
    wait_for(lambda: runtime.runs.status(run_id) == "waiting", 20, message="waiting")
    [reply] = runtime.send(Event(name="test/reply", data={"key": "o-77"}))
    finished(runtime, run_id)
    page.goto(f"/runs/{run_id}")
    assert page.locator('tr[data-step="reply"]').get_attribute("data-status") == "completed"
    assert page.locator('tr[data-step="reply"] [data-tries]').inner_text() == "1"
    assert page.locator('tr[data-step="reply"] line.deadline').count() == 0
    matched = page.locator('[data-step-detail="reply"] [data-matched]')
    assert reply.id in matched.text_content()  # in the step's (closed) details
    assert "deadline" not in page.locator('[data-step-detail="reply"]').text_content()


def test_a_cancelled_sleep_is_not_drawn_sleeping(
    early_worker: WorkerProcess, page: Any, runtime: Runtime
) -> None:
    early_worker.wait_ready()
    run_id = send(runtime, "test/sleep", seconds=7200)
    wait_for(lambda: runtime.runs.status(run_id) == "sleeping", 20, message="sleeping")
    cancel_run(runtime, run_id, "not needed")
    page.goto(f"/runs/{run_id}")
    row = page.locator('tr[data-step="nap"]')
    assert row.get_attribute("data-status") == "cancelled"
    assert row.locator("line.deadline").count() == 0
    assert "sleeps until" not in page.locator('[data-step-detail="nap"]').text_content()


def test_a_task_step_names_its_celery_task_with_a_flower_link(
    page: Any, runtime: Runtime, worker_factory: Any
) -> None:
    ready_together(worker_factory(queues="joelclaw", wait=False),
                   worker_factory(queues="plain", wait=False))
    run_id = send(runtime, "canvas/task", mode="flaky", failures=1)
    assert finished(runtime, run_id).status == "completed"
    tid = task_id(base_id(run_id, "flaky"), "r")
    page.goto(f"/runs/{run_id}")
    task = page.locator(f'[data-step-detail="flaky"] tr[data-task="{tid}"]')
    text = task.text_content()
    assert "canvas.flaky" in text and "w1@" in text
    assert task.locator("td").nth(2).text_content() == "2"  # deliveries: first run + 1 retry
    assert task.locator("[data-flower]").get_attribute("href") == f"{FLOWER}/task/{tid}"
    assert page.locator('tr[data-step="flaky"] [data-tries]').inner_text() == "2"


def test_the_functions_page_counts_runs_and_keeps_body_and_wait_apart(
    early_worker: WorkerProcess, page: Any, runtime: Runtime
) -> None:
    early_worker.wait_ready()
    ids = [send(runtime, "test/steps") for _ in range(3)]
    for run_id in ids:
        finished(runtime, run_id)
    page.goto("/functions")
    row = page.locator('tr[data-function="t-steps"]')
    assert row.locator("[data-runs]").inner_text() == "3"
    assert row.locator('[data-ended="completed"]').inner_text() == "completed 3"
    assert row.locator("[data-body]").inner_text() != "- · -"
    assert row.locator("[data-waited]").inner_text() != "- · -"
    assert "since" in page.locator("[data-window]").inner_text()
