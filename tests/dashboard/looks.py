"""What every dashboard page must be in a real browser, checked the same way everywhere: no
sideways scroll (the page fits 360-430 px phones), tap targets of at least 44 px at phone
width, no serious or critical axe-core accessibility violation, no console error (a CSP
violation would be one); and a screenshot kept as an artefact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1360, "height": 900}
PHONE_MAX = 430  # the widest phone a page must fit; narrower viewports get touch
TARGETS = ("button, input:not([type=hidden]), select, textarea, summary, nav.menu a, "
           ".tools a, a.button")
SERIOUS = ("serious", "critical")


def open_tab(browser: Any, base_url: str, viewport: dict[str, int] = DESKTOP,
             scheme: str = "light") -> Any:
    """A tab in a fresh context of that size and colour scheme (touch at phone widths), whose
    console errors (a CSP violation, a script error) collect in `tab.console_errors`; close
    it with `tab.context.close()`."""
    context = browser.new_context(base_url=base_url, viewport=viewport, color_scheme=scheme,
                                  has_touch=viewport["width"] <= PHONE_MAX)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda m: m.type == "error" and tab.console_errors.append(m.text))
    tab.on("pageerror", lambda exc: tab.console_errors.append(str(exc)))
    return tab


def too_small_targets(page: Any) -> list[str]:
    """Visible controls smaller than 44 px in height (a phone's minimum tap target)."""
    found: list[str] = page.evaluate("""(selector) => {
        const out = [];
        for (const el of document.querySelectorAll(selector)) {
            const box = el.getBoundingClientRect();
            if (!box.width || !box.height || getComputedStyle(el).visibility === "hidden") continue;
            if (box.height < 43.5) out.push(el.outerHTML.slice(0, 120) + " " + box.height);
        }
        return out;
    }""", TARGETS)
    return found


def sideways(page: Any) -> int:
    """How far the page scrolls sideways (0 when it fits the screen)."""
    return int(page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def axe_violations(page: Any) -> list[str]:
    """Serious or critical axe-core violations (the axe.min.js the test extra installs)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            f"{[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in SERIOUS]


CAPTURE_TRIES = 3


def keep_screenshot(page: Any, path: Path) -> None:
    """A full-page screenshot, the artefact (no assertion rests on it). Chromium's compositor
    sometimes refuses one on a busy machine ("Unable to capture screenshot"): asked again, it
    captures the same page."""
    for attempt in range(1, CAPTURE_TRIES + 1):
        try:
            page.screenshot(path=str(path), full_page=True)
            return
        except PlaywrightError as exc:
            if "Unable to capture screenshot" not in str(exc) or attempt == CAPTURE_TRIES:
                raise


def check(page: Any, directory: Path, name: str, *, phone: bool, status: int = 200) -> None:
    """Every rule above for the page as it is now, with a full-page screenshot (`status`
    404: the page itself answered 404, which the console reports)."""
    keep_screenshot(page, directory / f"{name}.png")
    assert sideways(page) == 0, f"{name}: scrolls sideways by {sideways(page)} px"
    if phone:
        small = too_small_targets(page)
        assert not small, f"{name}: tap targets under 44 px: {small[:5]}"
    violations = axe_violations(page)
    assert not violations, f"{name}: {violations}"
    expected = f"status of {status}" if status != 200 else None
    errors = [e for e in page.console_errors if not (expected and expected in e)]
    assert errors == [], f"{name}: {errors}"
    page.console_errors.clear()
