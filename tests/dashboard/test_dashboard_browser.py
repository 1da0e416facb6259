"""The dashboard in a real headless chromium, served by a real gunicorn with a real worker:
open a failed run, read its error, replay it and watch the new run complete; watch a waterfall
fill in live; see why a throttled run waits; hostile event data stays text. Each page's
screenshot is kept (DASHBOARD_SCREENSHOTS, else a folder under pytest's tmp dir)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from joelclaw.bus.control import wake_run
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.dashboard import review_store
from tests.dashboard.conftest import TOKEN, dash_settings
from tests.dashboard.dashfunctions import BREAK_FLAG
from tests.dashboard.looks import keep_screenshot
from tests.flow_helpers import finished, status_is
from tests.support import WorkerProcess, wait_for

pytestmark = pytest.mark.timeout(180)


def shot(page: Any, directory: Path, name: str) -> None:
    keep_screenshot(page, directory / f"{name}.png")


def send(rt: Runtime, name: str, **data: Any) -> str:
    return rt.send(Event(name=name, data=data))[0].runs[0]


def test_open_a_failed_run_read_the_error_replay_it_and_see_it_complete(
    early_worker: WorkerProcess, page: Any, runtime: Runtime, screenshot_dir: Path
) -> None:
    early_worker.wait_ready()
    runtime.redis.set(BREAK_FLAG, "1")
    failed = send(runtime, "dash/flaky", amount=42)
    assert finished(runtime, failed).status == "failed"
    page.goto("/")  # a failure waits on the owner: the first screen is "needs me"
    page.wait_for_url("**/needs-me")
    shot(page, screenshot_dir, "needs-me-failure")
    page.locator(f'[data-run="{failed}"] a', has_text=failed).first.click()
    page.wait_for_url(f"**/runs/{failed}")
    assert page.locator("[data-run-error]").inner_text().startswith("step 'charge' failed")
    detail = page.locator('[data-step-detail="charge"] [data-step-error]')
    assert "card declined: the payment provider said no" in detail.inner_text()
    assert "NonRetriable" in page.locator('[data-step-detail="charge"] pre.error').inner_text()
    version = page.locator('[data-step-detail="charge"] [data-code-version]').inner_text()
    charge = next(s for s in runtime.runs.steps(failed) if s.key == "charge")
    assert version == charge.code_version  # the trace says which code ran the step
    assert re.fullmatch(r"[0-9a-f]{12}", version)
    shot(page, screenshot_dir, "run-failed")

    runtime.redis.delete(BREAK_FLAG)
    page.locator('button[data-action="replay"]').click()
    page.wait_for_url(re.compile(r".*/runs/run-.*notice=replayed"))
    assert failed not in page.url
    page.locator("[data-run-status=completed]").wait_for(timeout=30_000)
    assert page.locator('tr[data-step="charge"]').get_attribute("data-status") == "completed"
    assert '"charged": 42' in page.locator("[data-output]").inner_text()
    assert "Replay started" in page.locator(".notice").inner_text()
    shot(page, screenshot_dir, "run-replayed")
    assert page.console_errors == []


def test_a_waterfall_fills_in_live_without_a_reload(
    early_worker: WorkerProcess, page: Any, runtime: Runtime, screenshot_dir: Path
) -> None:
    early_worker.wait_ready()
    # The run sleeps for an hour: the page shows the sleep however slow the machine is, and the
    # test ends it by waking the run, as the owner would.
    run_id = send(runtime, "dash/live", pause=0.8, sleep=3600)
    page.goto(f"/runs/{run_id}")
    page.evaluate("window.__sameDocument = true")
    assert page.locator('tr[data-step="store"]').count() == 0  # not there yet
    page.locator('tr[data-step="cool-down"][data-status="sleeping"]').wait_for(timeout=30_000)
    assert page.locator('tr[data-step="cool-down"] rect[data-kind="sleep"]').count() == 1
    assert page.locator('tr[data-step="cool-down"] line.deadline').count() == 1
    assert page.locator('tr[data-step="store"]').count() == 0  # still asleep
    shot(page, screenshot_dir, "run-live-sleeping")
    wake_run(runtime, run_id, by="owner (test)")
    page.locator('tr[data-step="store"]').wait_for(timeout=30_000)
    page.locator("[data-run-status=completed]").wait_for(timeout=30_000)
    for step in ("fetch", "cool-down", "store", "fan-out", "fan-out[0]", "fan-out[1]"):
        assert page.locator(f'tr[data-step="{step}"]').get_attribute("data-status") \
            == "completed", step
    assert page.locator('tr[data-step="fetch"] rect[data-kind="exec"]').count() == 1
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert page.locator("#run-live").get_attribute("data-live-done") == "1"
    shot(page, screenshot_dir, "run-completed")
    assert page.console_errors == []


def test_the_runs_list_updates_without_a_reload(
    page: Any, runtime: Runtime, screenshot_dir: Path
) -> None:
    page.goto("/runs")
    page.evaluate("window.__sameDocument = true")
    run_id = send(runtime, "test/steps")
    page.locator(f'tr[data-run="{run_id}"]').wait_for(timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True
    page.select_option('select[name="function"]', "t-steps")
    page.click('form.filters button[type="submit"]')
    page.wait_for_url("**/runs?function=t-steps**")
    assert page.locator("tr[data-run]").count() == 1
    shot(page, screenshot_dir, "runs")


def test_why_a_throttled_run_waits(
    early_worker: WorkerProcess, page: Any, runtime: Runtime, screenshot_dir: Path
) -> None:
    early_worker.wait_ready()
    first = send(runtime, "test/throttle-slow")
    second = send(runtime, "test/throttle-slow")
    assert finished(runtime, first).status == "completed"
    wait_for(lambda: (r := runtime.runs.get(second)) and r.held, 15, message="held")
    page.goto(f"/runs/{second}")
    why = page.locator("[data-explain]").inner_text()
    assert why.startswith("held by throttle: 1 per 30s; starts at "), why
    assert page.locator('tr[data-step="(run)"] rect[data-kind="hold"]').count() == 1
    shot(page, screenshot_dir, "run-throttled")
    page.goto("/functions")
    row = page.locator('tr[data-function="t-throttle-slow"]')
    assert "throttle" in row.inner_text() and "2" in row.inner_text()
    assert page.locator('tr[data-function="system-heartbeat"] [data-next-fire]').count() == 1
    shot(page, screenshot_dir, "functions")
    assert page.console_errors == []


def test_hostile_event_data_is_shown_as_text_and_never_runs(
    early_worker: WorkerProcess, page: Any, runtime: Runtime, screenshot_dir: Path
) -> None:
    early_worker.wait_ready()
    payload = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned=2\">"
    run_id = send(runtime, "dash/hostile", note=payload)
    assert finished(runtime, run_id).status == "failed"
    for path in (f"/runs/{run_id}", "/events", "/runs", "/"):
        page.goto(path)
        assert page.evaluate("typeof window.__pwned") == "undefined", path
    page.goto(f"/runs/{run_id}")
    assert "<script>window.__pwned = 1</script>" in page.locator("pre.event-data").inner_text()
    assert page.locator('tr[data-step="<b>bold</b> step"]').count() == 1
    assert "<script>window.__pwned = 1</script> broke" in page.locator(
        "[data-run-error]").inner_text()
    shot(page, screenshot_dir, "run-hostile")


def test_send_an_event_from_the_form_and_follow_its_run(
    early_worker: WorkerProcess, page: Any, runtime: Runtime, screenshot_dir: Path
) -> None:
    early_worker.wait_ready()
    page.goto("/events")
    page.fill('form.send input[name="name"]', "test/steps")
    page.fill('form.send textarea[name="data"]', '{"from": "the dashboard"}')
    page.click('button[data-action="send"]')
    page.wait_for_url(re.compile(r".*/events/evt-.*notice=sent"))
    assert "the dashboard" in page.locator("pre.event-data").inner_text()
    page.locator("tr[data-run] a").first.click()
    page.locator("[data-run-status=completed]").wait_for(timeout=30_000)
    page.goto("/events?q=the+dashboard")
    assert page.locator("tr[data-event]").count() == 1
    shot(page, screenshot_dir, "events")
    page.fill('form.send input[name="name"]', "Not A Name")
    page.click('button[data-action="send"]')
    assert "invalid event name" in page.locator("[data-form-error]").inner_text()


def test_gateway_and_memory_pages(page: Any, runtime: Runtime, screenshot_dir: Path) -> None:
    from joelclaw.gateway.queue import MessageQueue

    MessageQueue(runtime.redis).enqueue("function:deploy", "deploy failed on main",
                                        meta={"type": "vercel.deploy.error"})
    page.goto("/gateway")
    assert page.locator('[data-depth="p1"]').inner_text() == "1"
    assert "deploy failed on main" in page.locator('[data-message]').inner_text()
    page.click('button[data-action="sleep"]')
    page.locator('[data-mode="sleep"]').wait_for()
    shot(page, screenshot_dir, "gateway")
    page.click('button[data-action="wake"]')
    page.locator('[data-mode="awake"]').wait_for()

    review_store.add(runtime, "p-20260102-001", "Prefers answers under 100 words")
    page.goto("/memory")
    shot(page, screenshot_dir, "memory")
    page.locator('tr[data-proposal="p-20260102-001"] button[data-action="approve"]').click()
    assert "Proposal approved." in page.locator(".notice").inner_text()
    assert review_store.status(runtime, "p-20260102-001") == "approved"
    assert page.console_errors == []


def test_off_loopback_the_browser_logs_in_with_the_token(
    browser: Any, tmp_path: Path, redis_url: str, screenshot_dir: Path
) -> None:
    from tests.webhooks.gunicorn_support import Gunicorn

    settings = dash_settings(tmp_path / "home", redis_url, web_host="0.0.0.0", api_token=TOKEN)
    web = Gunicorn(settings, tmp_path / "gunicorn-exposed.log").wait_ready()
    context = browser.new_context(base_url=web.url)
    try:
        tab = context.new_page()
        tab.goto("/runs")
        tab.wait_for_url("**/login?next=/runs")
        shot(tab, screenshot_dir, "login")
        tab.fill('input[name="token"]', "wrong")
        tab.click('button[type="submit"]')
        assert "wrong token" in tab.locator('[role="alert"]').inner_text()
        tab.fill('input[name="token"]', TOKEN)
        tab.click('button[type="submit"]')
        tab.wait_for_url("**/runs")
        cookie = next(c for c in context.cookies() if c["name"] == "jc_dashboard")
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert tab.evaluate("document.cookie") == ""  # invisible to scripts
        tab.click("header form button")  # log out
        tab.goto("/runs")
        tab.wait_for_url("**/login?next=/runs")
    finally:
        context.close()
        web.stop()


def test_sleeping_run_can_be_cancelled_with_its_button(
    early_worker: WorkerProcess, page: Any, runtime: Runtime
) -> None:
    early_worker.wait_ready()
    run_id = send(runtime, "test/sleep", seconds=120)
    status_is(runtime, run_id, "sleeping")
    page.goto(f"/runs/{run_id}")
    assert "sleeping in step 'nap' until" in page.locator("[data-explain]").inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('button[data-action="cancel"]')
    page.wait_for_url("**notice=cancelled")
    assert page.locator("[data-run-status]").get_attribute("data-run-status") == "cancelled"
    assert runtime.runs.get(run_id).status == "cancelled"
