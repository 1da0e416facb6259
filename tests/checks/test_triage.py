"""Email triage (hours, LLM, tracked, cooldown), task triage (the unchanged-hash skip) and the
daily digest (once per date), in real workers against the Front, Todoist and LLM fakes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.runtime import Runtime
from tests.checks.conftest import CheckLLM, texts, with_front, with_llm, with_todoist
from tests.fakes.front import FakeFront
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.flow_helpers import finished
from tests.support import wait_for

pytestmark = pytest.mark.timeout(150)


def run_of(rt: Runtime, name: str, **data: object):
    [sent] = rt.send(Event(name=name, data=data))
    run = finished(rt, sent.runs[0], 60)
    assert run.status == "completed", run.error
    return run


def outside_now() -> str:
    hour = time.gmtime().tm_hour
    return f"{(hour + 2) % 24:02d}-{(hour + 3) % 24:02d}"


def test_email_triage_outside_the_owners_hours_is_skipped(
    make: Callable[..., Settings], start: Callable[..., Runtime], front: FakeFront,
    llm: FakeLLM,
) -> None:
    front.add_unreplied("cnv_1", "Contract renewal", "legal@acme.test", "Please sign")
    rt = start(make(email_triage_hours=outside_now(), **with_front(front), **with_llm(llm)))
    run = run_of(rt, "email/triage.requested")
    assert run.output["skipped"].startswith("outside ")
    assert front.calls("/conversations") == [] and llm.completions() == []


def test_email_triage_tells_the_owner_what_needs_them_once_per_cooldown(
    make: Callable[..., Settings], start: Callable[..., Runtime], front: FakeFront,
    llm: FakeLLM, check_llm: CheckLLM, todoist: FakeTodoist, tg: FakeTelegram,
) -> None:
    front.add_unreplied("cnv_1", "Contract renewal", "legal@acme.test", "Please sign")
    front.add_unreplied("cnv_2", "Weekly deals", "deals@shop.test", "50% off")
    front.add_unreplied("cnv_3", "Roof quote", "roofer@fix.test", "Which option?")
    check_llm.email = {"cnv_1": ("reply-needed", "waiting for a signature"),
                       "cnv_3": ("decision-needed", "pick an option")}
    todoist.add_task("t1", "Decide on the roof quote", "inbox")
    rt = start(make(email_triage_hours="00-24", email_triage_archive=True, **with_front(front),
                    **with_llm(llm), **with_todoist(todoist)), gateway=True)
    run = run_of(rt, "email/triage.requested")
    assert run.output["unread"] == 3 and run.output["attention"] == 1
    assert run.output["tracked"] == 1 and run.output["actions"]["archive"] == 1
    assert run.output["archived"] == 1
    assert front.conversations["cnv_2"]["status"] == "archived"
    assert front.conversations["cnv_1"]["status"] != "archived"
    [text] = wait_for(lambda: texts(tg), 30, message="the email notice")
    assert "Contract renewal" in text and "Roof quote" not in text
    assert "archive 1" in text

    again = run_of(rt, "email/triage.requested")
    assert again.output == {"skipped": "cooling down"}
    assert len(front.calls("/conversations/search")) == 1 and check_llm.calls["email"] == 1


def test_task_triage_skips_an_unchanged_task_list(
    make: Callable[..., Settings], start: Callable[..., Runtime], llm: FakeLLM,
    check_llm: CheckLLM, todoist: FakeTodoist, tg: FakeTelegram,
) -> None:
    todoist.add_task("t1", "Ship the release", "inbox")
    todoist.add_task("t2", "Fix the gutter", "inbox")
    rt = start(make(**with_llm(llm), **with_todoist(todoist)), gateway=True)
    first = run_of(rt, "tasks/triage.requested")
    assert first.output["notified"] is True and first.output["tasks"] == 2
    [text] = wait_for(lambda: texts(tg), 30, message="the task triage")
    assert "Task triage" in text and "Ship the release first" in text

    second = run_of(rt, "tasks/triage.requested")
    assert second.output["skipped"] == "task list unchanged"
    assert check_llm.calls["tasks"] == 1

    todoist.add_task("t3", "Book flights", "inbox")
    third = run_of(rt, "tasks/triage.requested")
    assert third.output["skipped"] == "cooling down", "a changed list still waits its turn"
    assert check_llm.calls["tasks"] == 1 and len(texts(tg)) == 1


def test_the_daily_digest_is_written_once_per_date(
    make: Callable[..., Settings], start: Callable[..., Runtime], llm: FakeLLM,
    check_llm: CheckLLM, tmp_path: Path,
) -> None:
    settings = make(digest_dir=tmp_path / "digests", **with_llm(llm))
    log = settings.memory_home / "memory" / "2026-11-30.md"
    log.parent.mkdir(parents=True)
    log.write_text("## Observations\n- decided to rebuild on Celery\n")
    rt = start(settings)
    first = run_of(rt, "memory/digest.requested", date="2026-11-30")
    path = Path(first.output["digest_path"])
    assert path == tmp_path / "digests" / "2026-11-30.md"
    assert path.read_text().startswith("# Digest")
    assert "decided to rebuild on Celery" in llm.prompts()[-1]

    second = run_of(rt, "memory/digest.requested", date="2026-11-30")
    assert second.output == {"skipped": "already written for this date", "date": "2026-11-30"}
    assert check_llm.calls["digest"] == 1
    [created] = list_events(rt.redis, name="memory/digest.created")
    assert created["event"]["data"]["digest_path"] == str(path)
    other = run_of(rt, "memory/digest.requested", date="2026-11-29")
    assert other.output["date"] == "2026-11-29" and check_llm.calls["digest"] == 2
