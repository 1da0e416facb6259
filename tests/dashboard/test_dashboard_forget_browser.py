"""Forgetting in a real browser (gunicorn, a worker, Redis, Typesense, chromium): from an event's
page or the forget form, a preview of everything derived from it, the confirmation, the audit
record and the forgotten list, at 390 px and 1280 px, light and dark, each page checked
(no sideways scroll, tap targets, axe, no console error) with a screenshot; afterwards no store
holds the text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from joelclaw.config import Settings
from joelclaw.embedded import TypesenseServer
from joelclaw.events.model import Event
from joelclaw.forget.plan import AOF_WAIT_SECONDS
from joelclaw.runtime import Runtime
from tests.dashboard.conftest import DASH_MODULES, dash_settings
from tests.dashboard.looks import PHONE, check, open_tab
from tests.flow_helpers import finished
from tests.test_forget import redis_hits, typesense_hits

pytestmark = pytest.mark.timeout(240)
WIDE = {"width": 1280, "height": 900}


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, typesense: TypesenseServer) -> Settings:
    return dash_settings(tmp_path / "home", redis_url,
                         function_modules=[*DASH_MODULES, "tests.forget_functions"],
                         typesense_url=typesense.url, typesense_api_key=typesense.api_key)


def _noted(rt: Runtime, event_id: str, text: str) -> None:
    [sent] = rt.send(Event(id=event_id, name="test/note.saved", data={"text": text}))
    assert finished(rt, sent.runs[0], timeout=60).status == "completed"


@pytest.mark.parametrize("viewport, scheme", [(PHONE, "light"), (PHONE, "dark"),
                                              (WIDE, "light"), (WIDE, "dark")],
                         ids=["390-light", "390-dark", "1280-light", "1280-dark"])
def test_forget_preview_confirm_and_audit_at_each_width_and_scheme(
        browser: Any, server: Any, runtime: Runtime, worker_factory: Any,
        typesense: TypesenseServer, screenshot_dir: Path, viewport: dict[str, int],
        scheme: str) -> None:
    worker_factory()
    width, phone = viewport["width"], viewport is PHONE
    marker = f"Wexmoor{width}{scheme} Okonkwo"
    event_id = f"note-{width}-{scheme}"
    _noted(runtime, event_id, f"lunch with {marker} on friday, a-long-word-to-wrap-on-phones")
    _noted(runtime, f"keep-{width}-{scheme}", "buy more coffee beans")
    assert redis_hits(runtime.redis, marker) and typesense_hits(typesense, marker)
    page = open_tab(browser, server.url, viewport, scheme)
    name = f"{width}-{scheme}"
    try:
        page.goto("/forget")
        check(page, screenshot_dir, f"forget-empty-{name}", phone=phone)
        if phone:  # from the event's own page
            page.goto(f"/events/{event_id}")
            page.locator('[data-action="forget"]').click()
        else:  # the form, by the text wherever it appears
            page.locator("[data-kind]").select_option("match")
            page.locator("[data-value]").fill(marker)
            page.locator("[data-reason]").fill("asked by the owner")
            page.locator('[data-action="preview"]').click()
        page.wait_for_url("**/forget/preview")
        count = int(page.locator("[data-preview-count]").get_attribute("data-preview-count")
                    or 0)
        stores = set(page.locator("[data-finding]").evaluate_all(
            "rows => rows.map(r => r.dataset.finding)"))
        assert count > 0 and {"events", "runs", "cache", "daily-log", "memory-file"} <= stores
        assert any(s.startswith("typesense:") for s in stores), stores
        assert marker in page.locator("[data-findings]").inner_text()  # the owner sees it
        assert redis_hits(runtime.redis, marker)  # the preview changed nothing
        check(page, screenshot_dir, f"forget-preview-{name}", phone=phone)

        page.locator('[data-action="confirm"]').click()
        # The confirmation answers once Redis has rewritten its append-only file (a fork and
        # a write of the whole data set, waited for up to AOF_WAIT_SECONDS): on a machine whose
        # cores are taken that alone can outlast the page's default 15 s.
        page.wait_for_url("**/forget/fg-*", timeout=AOF_WAIT_SECONDS * 1000)
        assert "Forgotten everywhere" in page.locator(".notice").inner_text()
        reason = "asked by the owner" if not phone else "forgotten on request"
        assert page.locator("[data-reason]").inner_text() == reason
        assert page.locator("[data-by]").inner_text() == "owner (dashboard)"
        assert page.locator("[data-aof]").inner_text() == "rewritten"
        assert page.locator('[data-store="events"]').count() == 1
        shown = page.content().lower()
        assert not [w for w in marker.lower().split() if w in shown]  # no word of the text
        check(page, screenshot_dir, f"forget-record-{name}", phone=phone)
        record_id = page.url.rsplit("/", 1)[-1].split("?")[0]

        page.goto("/forget")
        assert page.locator(f'[data-forgotten="{record_id}"]').count() == 1
        check(page, screenshot_dir, f"forget-list-{name}", phone=phone)
        page.goto(f"/events/{event_id}")
        assert page.locator("[data-forgotten]").count() == 1
        assert page.locator('[data-action="forget"]').count() == 0
    finally:
        page.context.close()
    assert redis_hits(runtime.redis, marker) == [] and typesense_hits(typesense, marker) == []
    for word in marker.split():  # not even one word of it (a search term's key, the audit)
        assert redis_hits(runtime.redis, word) == [] and typesense_hits(typesense, word) == []
    assert redis_hits(runtime.redis, "buy more coffee beans")  # the other note stays


def test_a_forget_preview_that_changed_is_not_confirmed(
        page: Any, runtime: Runtime, worker_factory: Any, typesense: TypesenseServer) -> None:
    """Between preview and confirm another note names the person: nothing is forgotten, the
    new preview is shown."""
    worker_factory()
    _noted(runtime, "n-changed-1", "tea with Brannoch Idowu")
    page.goto("/forget")
    page.locator("[data-kind]").select_option("person")
    page.locator("[data-value]").fill("Brannoch Idowu")
    page.locator('[data-action="preview"]').click()
    page.wait_for_url("**/forget/preview")
    before = int(page.locator("[data-preview-count]").get_attribute("data-preview-count") or 0)
    _noted(runtime, "n-changed-2", "walk with Brannoch Idowu")
    page.locator('[data-action="confirm"]').click()
    assert page.locator("[data-changed]").count() == 1
    after = int(page.locator("[data-preview-count]").get_attribute("data-preview-count") or 0)
    assert after > before and redis_hits(runtime.redis, "Brannoch Idowu")
    page.locator('[data-action="confirm"]').click()
    page.wait_for_url("**/forget/fg-*")
    assert redis_hits(runtime.redis, "Brannoch Idowu") == []
    # the one console line is the 409 the changed preview answered with
    assert [e for e in page.console_errors if "status of 409" not in e] == []
