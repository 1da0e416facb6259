"""`telegram-callback-received` refusing strangers and malformed keys, the calendar check with a
configured command, and the stale-runs check with its cooldown, in a real worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from joelclaw import keys
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.gateway.service import Gateway
from joelclaw.runtime import Runtime
from tests.checks.conftest import OWNER, texts, with_todoist
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.flow_helpers import finished
from tests.support import wait_for

pytestmark = pytest.mark.timeout(120)


def press(rt: Runtime, data: str, from_id: int, update_id: int):
    action, _, context = data.partition(":")
    [sent] = rt.send(Event(name="telegram/callback.received", data={
        "update_id": update_id, "callback_query_id": str(update_id), "action": action,
        "context": context, "raw_data": data, "chat_id": OWNER, "message_id": 5,
        "from_id": from_id}, source={"provider": "test"}))
    run_id = next(r for r in sent.runs
                  if rt.runs.get(r).function == "telegram-callback-received")  # type: ignore[union-attr]
    return finished(rt, run_id, 30)


def test_snooze_presses_from_strangers_or_with_bad_keys_do_nothing(
    make: Callable[..., Settings], start: Callable[..., Runtime],
) -> None:
    rt = start(make())
    stranger = press(rt, "s4h:health.disk", 777, 1)
    assert stranger.output == {"skipped": "not the owner's button press"}
    bad = press(rt, "s4h:not a key", OWNER, 2)
    assert bad.output["skipped"].startswith("malformed snooze button")
    assert not rt.redis.exists(keys.snooze("health.disk"))
    owner = press(rt, "s4h:health.disk", OWNER, 3)
    assert owner.output["snoozed"] == "health.disk"
    assert owner.output["edited"] is False, "message 5 was never sent: nothing to edit"
    assert rt.redis.exists(keys.snooze("health.disk")), "the snooze holds anyway"


def test_with_no_owner_configured_no_button_press_counts(
    make: Callable[..., Settings], start: Callable[..., Runtime],
) -> None:
    # Given no JOELCLAW_TELEGRAM_OWNER_ID: nobody can be the owner (as for approvals)
    rt = start(make(telegram_owner_id=None))
    # When anyone presses a snooze or a memory button
    snoozed = press(rt, "s4h:health.disk", 777, 1)
    action, _, context = "memory:approve:p-20990101-001".partition(":")
    [sent] = rt.send(Event(name="telegram/callback.received", data={
        "update_id": 2, "callback_query_id": "2", "action": action, "context": context,
        "raw_data": f"{action}:{context}", "chat_id": 777, "message_id": 5, "from_id": 777},
        source={"provider": "test"}))
    [review] = [r for r in sent.runs if rt.runs.get(r).function == "memory-telegram-review"]  # type: ignore[union-attr]
    # Then nothing is done in the owner's name
    assert snoozed.output == {"skipped": "not the owner's button press"}
    assert not rt.redis.exists(keys.snooze("health.disk"))
    assert finished(rt, review, 30).output == {"skipped": "not the owner's button press"}


def test_the_calendar_check_tells_today_once_per_cooldown(
    make: Callable[..., Settings], start: Callable[..., Runtime], tmp_path: Path,
    tg: FakeTelegram, todoist: FakeTodoist,
) -> None:
    today = time.strftime("%Y%m%d", time.gmtime())
    ics = tmp_path / "cal.ics"
    ics.write_text(f"BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Board meeting\n"
                   f"DTSTART:{today}T235900Z\nEND:VEVENT\nEND:VCALENDAR\n")
    todoist.add_task("t1", "Prepare the board meeting deck", "inbox")
    rt = start(make(calendar_command=f"cat {ics}", **with_todoist(todoist)), gateway=True)
    [sent] = rt.send(Event(name="calendar/daily.check"))
    run = finished(rt, sent.runs[0], 60)
    assert run.status == "completed" and run.output["events"] == 1, run.error
    [text] = wait_for(lambda: texts(tg), 30, message="the calendar notice")
    assert "Board meeting" in text and "Prepare the board meeting deck" in text
    [again] = rt.send(Event(name="calendar/daily.check"))
    assert finished(rt, again.runs[0], 60).output == {"skipped": "cooling down"}


def test_a_calendar_that_is_not_configured_is_skipped(
    make: Callable[..., Settings], start: Callable[..., Runtime],
) -> None:
    rt = start(make())
    [sent] = rt.send(Event(name="calendar/daily.check"))
    run = finished(rt, sent.runs[0], 60)
    assert run.status == "completed" and run.output["skipped"].startswith("no JOELCLAW_CALENDAR")


def test_stale_runs_are_notified_once_per_cooldown(
    make: Callable[..., Settings], start: Callable[..., Runtime],
) -> None:
    rt = start(make(stale_queued_minutes=0.01))  # no gateway worker: its queue's runs wait
    [stuck] = rt.send(Event(name="telegram/message.received", data={  # a gateway-queue run
        "update_id": 1, "message_id": 1, "chat_id": OWNER, "text": "hi"},
        source={"provider": "telegram"}))
    [stuck_id] = stuck.runs
    stuck_run = rt.runs.get(stuck_id)
    assert stuck_run is not None and stuck_run.status == "queued"
    wait_for(lambda: time.time() - stuck_run.created_at > 0.6 + 0.1, timeout=10,
             message="the run older than the 0.6 s limit")
    [sent] = rt.send(Event(name="loops/stale.check"))
    run = finished(rt, sent.runs[0], 60)
    assert run.status == "completed", run.error
    assert run.output["notified"] == 1 and run.output["stale"] == 1
    queued = Gateway(rt).queue.depth()
    assert queued["p2"] + queued["p1"] + queued["p0"] + queued["p3"] == 1
    [again] = rt.send(Event(name="loops/stale.check"))
    assert finished(rt, again.runs[0], 60).output["cooling_down"] is True
