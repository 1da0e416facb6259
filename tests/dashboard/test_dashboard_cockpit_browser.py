"""The owner's cockpit in a real headless chromium (Debian's), served by a real gunicorn with a
real worker: at 390 px the owner opens needs-me, approves a memory proposal, answers a waiting
run by sending its event, wakes a sleeping run and bulk-replays one function's failures after
a preview; every page at phone and desktop widths in light and dark fits the screen, has
44 px tap targets on the phone and no serious accessibility violation; keyboard shortcuts on
a desktop; the events page live, with ids containing `/`, edit-and-resend and its error in
view. Screenshots are kept (tests/dashboard/conftest.py says where)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.dashboard import review_store
from tests.dashboard.dashfunctions import BREAK_FLAG
from tests.dashboard.looks import DESKTOP, PHONE, check, open_tab
from tests.flow_helpers import finished, status_is
from tests.support import WorkerProcess

pytestmark = pytest.mark.timeout(240)
Pages = Callable[..., Any]


@pytest.fixture
def pages(browser: Any, server: Any) -> Iterator[Pages]:
    """Open a tab of a given size and colour scheme; console errors are collected."""
    tabs: list[Any] = []

    def open_phone_first(viewport: dict[str, int] = PHONE, scheme: str = "light") -> Any:
        tabs.append(open_tab(browser, server.url, viewport, scheme))
        return tabs[-1]

    yield open_phone_first
    for tab in tabs:
        tab.context.close()


def send(rt: Runtime, name: str, event_id: str | None = None, **data: Any) -> str:
    event = Event(name=name, data=data, **({"id": event_id} if event_id else {}))
    return rt.send(event)[0].runs[0]


def test_at_390px_the_owner_settles_everything_from_needs_me(
        early_worker: WorkerProcess, pages: Pages, runtime: Runtime, screenshot_dir: Path) -> None:
    early_worker.wait_ready()
    runtime.redis.set(BREAK_FLAG, "1")
    failures = [send(runtime, "dash/flaky", amount=n) for n in (1, 2)]
    for run_id in failures:
        assert finished(runtime, run_id).status == "failed"
    review_store.add(runtime, "p-20260102-001", "Prefers answers under 100 words")
    waiting = send(runtime, "test/wait", key="order-1234", timeout=600)
    sleeping = send(runtime, "test/sleep", seconds=3600)
    status_is(runtime, waiting, "waiting")
    status_is(runtime, sleeping, "sleeping")
    page = pages(PHONE)

    page.goto("/")
    page.wait_for_url("**/needs-me")
    check(page, screenshot_dir, "done-1-needs-me-390", phone=True)

    # approve the memory proposal
    page.locator('[data-proposal="p-20260102-001"] button[data-action="approve"]').click()
    page.wait_for_url("**/needs-me?notice=approved")
    assert review_store.status(runtime, "p-20260102-001") == "approved"
    assert page.locator('[data-proposal="p-20260102-001"]').count() == 0

    # answer the waiting run: its event is pre-filled with the value it waits for
    answer = page.locator(f'[data-waiting="{waiting}"]')
    assert '"key": "order-1234"' in answer.locator("textarea").input_value()
    assert '"order-1234"' in answer.inner_text()
    answer.locator('button[data-action="answer"]').click()
    page.wait_for_url("**/needs-me?notice=answered")
    assert finished(runtime, waiting).output == {"got": {"key": "order-1234"}}
    check(page, screenshot_dir, "done-2-needs-me-answered-390", phone=True)

    # wake the sleeping run from its page
    page.goto(f"/runs/{sleeping}")
    assert "sleeping in step 'nap' until" in page.locator("[data-explain]").inner_text()
    check(page, screenshot_dir, "done-3-run-sleeping-390", phone=True)
    page.locator('button[data-action="wake"]').click()
    page.wait_for_url(f"**/runs/{sleeping}?notice=woken")
    page.locator("[data-run-status=completed]").wait_for(timeout=30_000)
    assert page.locator('[data-step-detail="nap"] [data-woken-by]').get_attribute(
        "data-woken-by") == "owner (dashboard)"
    assert runtime.runs.step(sleeping, "nap").woken_by == "owner (dashboard)"

    # bulk-replay the failures of d-flaky after a preview
    runtime.redis.delete(BREAK_FLAG)
    page.goto("/needs-me")
    page.locator('[data-failures="d-flaky"] a[data-action="replay-all"]').click()
    page.wait_for_url("**/runs/bulk?**")
    assert page.locator("[data-preview-count]").get_attribute("data-preview-count") == "2"
    check(page, screenshot_dir, "done-4-bulk-preview-390", phone=True)
    page.locator('button[data-action="confirm"]').click()
    page.wait_for_url("**/bulk/bulk-*")
    page.locator('[data-job-status="done"]').wait_for(timeout=30_000)
    new_runs = [page.locator("[data-new-run]").nth(i).get_attribute("data-new-run")
                for i in range(page.locator("[data-new-run]").count())]
    assert len(new_runs) == 2
    for run_id in new_runs:
        done = finished(runtime, run_id)
        assert done.status == "completed" and done.replay_of in failures
    check(page, screenshot_dir, "done-5-bulk-done-390", phone=True)


@pytest.mark.parametrize("viewport, scheme", [(PHONE, "light"), (PHONE, "dark"),
                                              (DESKTOP, "light"), (DESKTOP, "dark")],
                         ids=["phone-light", "phone-dark", "desktop-light", "desktop-dark"])
def test_every_page_fits_and_reads_at_each_width_and_scheme(
        early_worker: WorkerProcess, pages: Pages, runtime: Runtime, screenshot_dir: Path,
        viewport: dict[str, int], scheme: str) -> None:
    early_worker.wait_ready()
    runtime.redis.set(BREAK_FLAG, "1")
    failed = send(runtime, "dash/flaky", "order/2026/0001", amount=9)
    waiting = send(runtime, "test/wait", key="k-1", timeout=600)
    sleeping = send(runtime, "test/sleep", seconds=3600)
    assert finished(runtime, failed).status == "failed"
    status_is(runtime, waiting, "waiting")
    status_is(runtime, sleeping, "sleeping")
    review_store.add(runtime, "p-20260102-002", "Likes the command first")
    from joelclaw.bus.control import bulk

    job = bulk.create(runtime, "cancel", bulk.Selection(function="t-sleep"), expect=1,
                      by="test")
    bulk.execute(runtime, job["id"])
    paths = {"needs-me": "/needs-me", "overview": "/overview", "functions": "/functions",
             "runs": "/runs", "run-failed": f"/runs/{failed}", "run-waiting": f"/runs/{waiting}",
             "events": "/events", "event": f"/events/{quote('order/2026/0001', safe='')}",
             "gateway": "/gateway", "memory": "/memory", "shortcuts": "/shortcuts",
             "bulk-preview": "/runs/bulk?action=replay&function=d-flaky&status=failed",
             "bulk-job": f"/bulk/{job['id']}", "not-found": "/no/such/page"}
    page = pages(viewport, scheme)
    width = "phone" if viewport is PHONE else "desktop"
    for name, path in paths.items():
        page.goto(path)
        page.wait_for_load_state("load")
        check(page, screenshot_dir, f"page-{name}-{width}-{scheme}", phone=viewport is PHONE,
              status=404 if name == "not-found" else 200)
    page.goto("/events/" + quote("order/2026/0001", safe=""))
    assert page.locator("[data-event-id]").inner_text() == "order/2026/0001"


def test_keyboard_shortcuts_on_a_desktop(pages: Pages, runtime: Runtime,
                                         screenshot_dir: Path) -> None:
    first = send(runtime, "test/steps")
    page = pages(DESKTOP)
    page.goto("/runs")
    page.keyboard.press("j")
    assert page.locator(f'tr[data-run="{first}"]').get_attribute("class") == "selected"
    page.keyboard.press("o")
    page.wait_for_url(f"**/runs/{first}")
    page.keyboard.press("g")
    page.keyboard.press("f")
    page.wait_for_url("**/functions")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("steps")  # typing in a field is not a shortcut
    assert page.url.endswith("/functions")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    page.wait_for_url("**/shortcuts")
    assert "go to Runs" in page.locator("[data-shortcuts]").inner_text()
    check(page, screenshot_dir, "shortcuts-desktop", phone=False)


def test_events_live_with_slashed_ids_edit_and_resend_and_errors_in_view(
        pages: Pages, runtime: Runtime, screenshot_dir: Path) -> None:
    page = pages(PHONE)
    page.goto("/events")
    page.evaluate("window.__sameDocument = true")
    event_id = "upload-photos/2026/a b.png"
    runtime.send(Event(name="media/uploaded", id=event_id,
                       data={"path": "photos/2026/a b.png", "api_token": "sekrit-123456"}))
    row = page.locator(f'tr[data-event="{event_id}"]')
    row.wait_for(timeout=10_000)  # appeared live
    assert page.evaluate("window.__sameDocument") is True
    row.locator("a[data-open]").click()
    page.wait_for_url(re.compile(r".*/events/upload-photos%2F2026%2Fa%20b\.png$"))
    assert page.locator("[data-event-id]").inner_text() == event_id
    assert "sekrit-123456" not in page.content()
    page.locator('a[data-action="resend"]').click()
    data = page.locator("#event-data")
    assert '"[redacted]"' in data.input_value()
    data.fill(data.input_value().replace("a b.png", "c d.png"))
    page.locator('button[data-action="send"]').click()
    page.wait_for_url(re.compile(r".*/events/evt-.*notice=sent"))
    new_id = page.locator("[data-event-id]").inner_text()
    stored = runtime.redis.hget(f"jc:event:{new_id}", "record")
    assert b'"api_token": "sekrit-123456"' in stored and b"c d.png" in stored

    page.goto("/events")
    page.fill('form.send input[name="name"]', "Not A Name")
    page.click('button[data-action="send"]')
    error = page.locator("[data-form-error]")
    assert "invalid event name" in error.inner_text()
    box = error.bounding_box()
    assert box is not None and 0 <= box["y"] < PHONE["height"]  # in view without scrolling
    check(page, screenshot_dir, "events-error-390", phone=True, status=400)


def test_pause_and_resume_a_function_from_its_page(early_worker: WorkerProcess, pages: Pages,
                                                   runtime: Runtime) -> None:
    early_worker.wait_ready()
    page = pages(PHONE)
    page.goto("/functions?q=t-steps")
    page.locator('tr[data-function="t-steps"] button[data-action="pause"]').click()
    page.wait_for_url("**notice=paused")
    assert page.locator('tr[data-function="t-steps"] .badge.paused').count() == 1
    run_id = send(runtime, "test/steps")
    page.goto(f"/runs/{run_id}")
    page.locator("[data-explain]", has_text="paused: function t-steps").wait_for()
    page.goto("/functions?q=t-steps")
    page.locator('tr[data-function="t-steps"] button[data-action="resume"]').click()
    page.wait_for_url("**notice=resumed")
    assert finished(runtime, run_id).status == "completed"
    assert page.console_errors == []


def test_the_accessibility_check_itself_catches_violations(browser: Any) -> None:
    from tests.dashboard.looks import axe_violations, sideways, too_small_targets

    tab = browser.new_page(viewport=PHONE)
    try:
        tab.set_content("<html lang=en><head><title>t</title></head><body><main>"
                        "<img src='x.png'><button></button>"
                        "<div style='width:900px'>wide</div></main></body></html>")
        found = " ".join(axe_violations(tab))
        assert "image-alt (critical)" in found and "button-name (critical)" in found
        assert sideways(tab) > 0 and too_small_targets(tab)
    finally:
        tab.close()
