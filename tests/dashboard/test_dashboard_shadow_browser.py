"""Shadow replay reports in a real browser: the list and a report with its differing steps and
diffs, at phone widths (360 and 390 px) and on a desktop, light and dark; the run page shows each
step's effect."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.shadow_functions as fns
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from joelclaw.shadow import shadow_many
from tests.dashboard.conftest import DASH_MODULES, dash_settings
from tests.dashboard.looks import DESKTOP, PHONE, check, open_tab
from tests.flow_helpers import finished

pytestmark = pytest.mark.timeout(240)
NARROW = {"width": 360, "height": 740}


@pytest.fixture
def settings(tmp_path: Path, redis_url: str) -> Settings:
    return dash_settings(tmp_path / "home", redis_url,
                         function_modules=[*DASH_MODULES, "tests.shadow_functions"])


@pytest.fixture
def report(runtime: Runtime, worker_factory: Any, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[tuple[str, list[str]]]:
    """Three recorded greetings, replayed after the greeting changed."""
    worker_factory()
    run_ids = [runtime.send(Event(name="shadow/greet", data={"name": n}))[0].runs[0]
               for n in ("ada", "grace", "a-name-long-enough-to-wrap-on-a-phone-screen")]
    for run_id in run_ids:
        assert finished(runtime, run_id).status == "completed"
    monkeypatch.setattr(fns, "GREETING", "good morning")
    yield shadow_many(runtime, run_ids=run_ids).id, run_ids


@pytest.mark.parametrize("viewport, scheme", [(NARROW, "light"), (PHONE, "dark"),
                                              (DESKTOP, "light"), (DESKTOP, "dark")],
                         ids=["360-light", "390-dark", "desktop-light", "desktop-dark"])
def test_shadow_reports_read_at_each_width_and_scheme(
        browser: Any, server: Any, report: tuple[str, list[str]], screenshot_dir: Path,
        viewport: dict[str, int], scheme: str) -> None:
    report_id, run_ids = report
    phone = viewport is not DESKTOP
    page = open_tab(browser, server.url, viewport, scheme)
    try:
        width = f"{viewport['width']}"
        page.goto("/shadow")
        check(page, screenshot_dir, f"shadow-list-{width}-{scheme}", phone=phone)
        page.locator(f'[data-report="{report_id}"] a').click()
        page.wait_for_url(f"**/shadow/{report_id}")
        assert page.locator("[data-differ]").inner_text() == "3"
        assert page.locator("[data-calls-out]").inner_text() == "0"
        first = page.locator(f'[data-shadow-run="{run_ids[0]}"]')
        assert first.get_attribute("data-status") == "differs"
        assert first.locator('[data-step="greet"]').get_attribute("data-same") == "no"
        assert first.locator('[data-step="keep"] td[data-label="mode"]').inner_text() \
            == "replayed"
        diff = first.locator("pre[data-diff]").first.inner_text()
        assert '-hello, ada' in diff and '+good morning, ada' in diff
        check(page, screenshot_dir, f"shadow-report-{width}-{scheme}", phone=phone)
        page.goto(f"/runs/{run_ids[0]}")
        effect = page.locator('[data-step-detail="greet"] [data-step-effect]').inner_text()
        assert effect == "pure"
        assert page.locator('[data-step-detail="keep"] [data-step-effect]').inner_text() \
            == "write"
    finally:
        page.context.close()
