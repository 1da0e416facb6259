"""The memory review page against real memory (joelclaw.memory.review:review_queue, the default
provider): proposals staged in Redis by the memory pipeline's own store, decided through the
page into MEMORY.md and the daily log, in the Flask client and in a real browser on gunicorn."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from joelclaw.config import Settings
from joelclaw.insight.review import DEFAULT_PROVIDER
from joelclaw.memory.plugin import memory_of
from joelclaw.memory.service import Memory
from joelclaw.runtime import Runtime
from tests.dashboard.conftest import AppFactory, dash_settings
from tests.dashboard.test_dashboard_security import csrf_of

pytestmark = pytest.mark.timeout(120)


def _today() -> str:
    return datetime.fromtimestamp(time.time(), UTC).strftime("%Y-%m-%d")


@pytest.fixture
def real(app_factory: AppFactory) -> tuple[FlaskClient, Memory]:
    app = app_factory(memory_review_provider=DEFAULT_PROVIDER)
    runtime: Runtime = app.extensions["joelclaw"]
    return app.test_client(), memory_of(runtime)


def test_the_default_provider_is_real_memory(app_factory: AppFactory) -> None:
    client = app_factory(memory_review_provider=DEFAULT_PROVIDER).test_client()
    data = client.get("/api/dashboard/memory").json
    assert data["available"] is True and data["reason"] is None and data["proposals"] == []
    assert "No proposals waiting for review." in client.get("/memory").get_data(as_text=True)


def test_open_proposals_are_listed_oldest_first_with_their_status(
    real: tuple[FlaskClient, Memory]
) -> None:
    client, mem = real
    first = mem.proposals.create("Hard Rules", "Never deploy on Fridays <script>x</script>")
    second = mem.proposals.create("Patterns", "Writes ADRs before big changes")
    mem.proposals.queue_for_llm(second.id)
    decided = mem.proposals.create("Joel", "Already handled")
    mem.proposals.finish(decided.id, "rejected", by="test")
    listed = client.get("/api/dashboard/memory").json["proposals"]
    assert [(p["id"], p["status"], p["section"]) for p in listed] == [
        (first.id, "pending", "Hard Rules"), (second.id, "llm-pending", "Patterns")]
    page = client.get("/memory").get_data(as_text=True)
    assert first.id in page and "<script>x</script>" not in page


def test_approving_promotes_into_memory_md_and_rejecting_archives(
    real: tuple[FlaskClient, Memory]
) -> None:
    client, mem = real
    keep = mem.proposals.create("Conventions", "Uses uv for Python installs")
    drop = mem.proposals.create("Joel", "Likes long meetings")
    csrf = csrf_of(client, "/memory")
    answer = client.post(f"/memory/{keep.id}/approve", data={"csrf": csrf})
    assert answer.status_code == 303 and "notice=approved" in answer.headers["Location"]
    assert client.post(f"/memory/{drop.id}/reject",
                       data={"csrf": csrf, "reason": "not true"}).status_code == 303

    text = mem.memory_file.read()
    section = text.split("## Conventions", 1)[1].split("\n## ", 1)[0]
    assert f"- ({_today()}) Uses uv for Python installs" in section
    assert "Likes long meetings" not in text
    promoted, rejected = mem.proposals.require(keep.id), mem.proposals.require(drop.id)
    assert (promoted.status, promoted.decided_by) == ("promoted", "dashboard")
    assert (rejected.status, rejected.decision_reason) == ("rejected", "not true")
    log = mem.daily.read(_today())
    assert keep.id in log and "not true" in log
    assert client.get("/api/dashboard/memory").json["proposals"] == []


def test_decided_and_unknown_proposals_are_409_and_404_and_apply_once(
    real: tuple[FlaskClient, Memory]
) -> None:
    client, mem = real
    proposal = mem.proposals.create("Patterns", "Keeps PRs small")
    csrf = csrf_of(client, "/memory")
    assert client.post(f"/memory/{proposal.id}/approve", data={"csrf": csrf}).status_code == 303
    again = client.post(f"/memory/{proposal.id}/approve", data={"csrf": csrf})
    assert again.status_code == 409 and "no longer pending" in again.get_data(as_text=True)
    assert client.post(f"/memory/{proposal.id}/reject", data={"csrf": csrf}).status_code == 409
    assert client.post("/memory/p-20990101-001/approve", data={"csrf": csrf}).status_code == 404
    assert mem.memory_file.read().count("Keeps PRs small") == 1, "applied once"
    assert mem.proposals.require(proposal.id).status == "promoted"


@pytest.fixture
def memory_server(tmp_path: Path, redis_url: str) -> Iterator[tuple[Any, Settings]]:
    from tests.webhooks.gunicorn_support import Gunicorn

    settings = dash_settings(tmp_path / "home", redis_url,
                             memory_review_provider=DEFAULT_PROVIDER)
    web = Gunicorn(settings, tmp_path / "gunicorn-memory.log").wait_ready()
    yield web, settings
    web.stop()


def test_the_owner_approves_through_the_page_in_a_browser(
    browser: Any, memory_server: tuple[Any, Settings]
) -> None:
    web, settings = memory_server
    mem = memory_of(Runtime(settings))
    proposal = mem.proposals.create("Hard Rules", "Prefers answers under 100 words")
    context = browser.new_context(base_url=web.url)
    try:
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto("/memory")
        row = tab.locator(f'tr[data-proposal="{proposal.id}"]')
        assert "Prefers answers under 100 words" in row.inner_text()
        row.locator('button[data-action="approve"]').click()
        assert "Proposal approved." in tab.locator(".notice").inner_text()
        assert tab.locator(f'tr[data-proposal="{proposal.id}"]').count() == 0
        assert errors == []
    finally:
        context.close()
    assert mem.proposals.require(proposal.id).status == "promoted"
    assert f"- ({_today()}) Prefers answers under 100 words" in mem.memory_file.read()
