"""check-system-health in real workers: degraded → one notice (with snooze buttons), a second
heartbeat inside the cooldown → nothing, a press of `s4h:` edits the message and suppresses,
fatal → straight to Telegram with no gateway worker running, tracked by a task → nothing; a
degradation is looked at again after a grace, and only one still there is told."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from joelclaw import health, keys
from joelclaw.bus.control import wake_run
from joelclaw.config import Settings
from joelclaw.coordination import cooldown
from joelclaw.embedded import free_port
from joelclaw.events.model import Event
from joelclaw.gateway.service import Gateway
from joelclaw.runtime import Runtime
from tests.checks.conftest import OWNER, texts, with_todoist
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.flow_helpers import finished
from tests.support import WorkerProcess, wait_for

pytestmark = pytest.mark.timeout(150)


def health_runs(rt: Runtime) -> list:
    return sorted(rt.runs.list(function="check-system-health", limit=50),
                  key=lambda r: r.created_at)


def heartbeat(rt: Runtime, count: int) -> object:
    """Wake the heartbeat; return the `count`-th health run once it has finished."""
    rt.send(Event(name="system/heartbeat.wake"))
    wait_for(lambda: len(health_runs(rt)) >= count, 30, message=f"health run #{count}")
    return finished(rt, health_runs(rt)[count - 1].id, 60)


def dead_typesense() -> dict:
    return {"typesense_url": f"http://127.0.0.1:{free_port()}", "typesense_api_key": "k"}


def test_degraded_is_notified_once_and_a_second_heartbeat_in_the_cooldown_sends_nothing(
    make: Callable[..., Settings], start: Callable[..., Runtime], tg: FakeTelegram,
) -> None:
    rt = start(make(**dead_typesense()), gateway=True, beat=True)
    first = heartbeat(rt, 1)
    assert first.status == "completed", first.error
    assert first.output["status"] == "degraded"
    assert [f["component"] for f in first.output["findings"]] == ["typesense"]
    assert first.output["notified"] == ["system.health.degraded"]
    wait_for(lambda: texts(tg), 30, message="the degraded notice on Telegram")
    assert len(texts(tg)) == 1, texts(tg)
    [message] = tg.sent_messages(OWNER)
    assert "System degraded" in message["text"] and "typesense" in message["text"]
    buttons = [b["callback_data"] for row in message["reply_markup"]["inline_keyboard"]
               for b in row]
    assert buttons == ["s4h:health.typesense"]

    second = heartbeat(rt, 2)
    assert second.status == "completed" and second.output["status"] == "degraded"
    assert second.output["notified"] == [], "inside the cooldown nothing is notified"
    assert not any(s.key.startswith("notify") for s in rt.runs.steps(second.id))
    assert Gateway(rt).queue.ready_count() == 0
    assert len(texts(tg)) == 1, texts(tg)


def test_snooze_button_edits_the_message_and_suppresses_the_notice(
    make: Callable[..., Settings], start: Callable[..., Runtime], tg: FakeTelegram,
) -> None:
    rt = start(make(**dead_typesense()), gateway=True, beat=True)
    assert heartbeat(rt, 1).output["notified"] == ["system.health.degraded"]
    wait_for(lambda: texts(tg), 30, message="the degraded notice")
    [message] = tg.sent_messages(OWNER)

    tg.push_callback(OWNER, OWNER, message["message_id"], "s4h:health.typesense")
    run_id = wait_for(lambda: [r.id for r in rt.runs.list(function="telegram-callback-received")],
                      30, message="the callback run")[0]
    run = finished(rt, run_id, 30)
    assert run.status == "completed", run.error
    assert run.output["snoozed"] == "health.typesense" and run.output["edited"] is True
    edited = tg.message(OWNER, message["message_id"])
    assert "Snoozed for 4h (until " in edited["text"] and "typesense" in edited["text"]
    assert edited["text"].count("Snoozed") == 1, "the original text, snoozed once"
    assert not edited.get("reply_markup"), "the buttons are gone"
    assert rt.redis.pttl(keys.snooze("health.typesense")) > 3.9 * 3600 * 1000

    cooldown.reset(rt.redis, keys.health_degraded_notified("typesense"))  # the hour passed
    third = heartbeat(rt, 2)
    assert third.output["snoozed"] == ["typesense"] and third.output["notified"] == []
    assert len(tg.sent_messages(OWNER)) == 1


def test_fatal_goes_straight_to_telegram_before_any_agent_turn(
    make: Callable[..., Settings], start: Callable[..., Runtime], tg: FakeTelegram,
) -> None:
    rt = start(make())  # no beat ever ticked, and no gateway worker to run an agent turn
    [sent] = rt.send(Event(name="system/health.requested", data={"mode": "core"}))
    run = finished(rt, sent.runs[0], 60)
    assert run.status == "completed", run.error
    assert run.output["status"] == "fatal"
    assert "system.fatal" in run.output["notified"]
    [message] = tg.sent_messages(OWNER)  # sent by the function's own worker
    assert "System fatal" in message["text"] and "beat" in message["text"]
    depth = Gateway(rt).queue.depth()
    assert depth["p0"] == 1, "the agent's copy waits at P0 for the gateway"

    [again] = rt.send(Event(name="system/health.requested", data={"mode": "core"}))
    assert finished(rt, again.runs[0], 60).output["notified"] == []
    assert len(tg.sent_messages(OWNER)) == 1


def test_a_degradation_an_open_task_tracks_is_not_notified(
    make: Callable[..., Settings], start: Callable[..., Runtime], tg: FakeTelegram,
    todoist: FakeTodoist,
) -> None:
    todoist.add_task("t1", "Free some disk space on the box", "inbox")
    rt = start(make(health_disk_min_free_percent=100.0, **with_todoist(todoist)), beat=True,
               gateway=True)
    [sent] = rt.send(Event(name="system/health.check", data={"mode": "core"}))
    run = finished(rt, sent.runs[0], 60)
    assert run.status == "completed", run.error
    assert [f["component"] for f in run.output["findings"]] == ["disk"]
    assert run.output["tracked"] == [{"component": "disk",
                                      "task": "Free some disk space on the box"}]
    assert run.output["notified"] == []
    assert Gateway(rt).queue.ready_count() == 0 and tg.sent_messages(OWNER) == []


def test_the_hourly_signals_check_sees_a_high_run_error_rate(
    make: Callable[..., Settings], start: Callable[..., Runtime],
) -> None:
    from datetime import UTC, datetime

    from joelclaw.bus.celery import dispatch_tick

    rt = start(make(function_modules=["tests.functions"], health_error_rate_min_runs=5,
                    telegram_token=None))
    failing = [rt.send(Event(name="test/nonretriable", data={"i": i}))[0].runs[0]
               for i in range(6)]
    assert {finished(rt, r, 60).status for r in failing} == {"failed"}
    fn = rt.function("check-system-health-signals-schedule")
    tick = dispatch_tick(rt, fn, datetime.now(UTC).replace(minute=7, second=0, microsecond=0),
                         "7 * * * *", "UTC")
    assert finished(rt, tick.runs[0], 30).status == "completed"
    run_id = wait_for(lambda: [r.id for r in health_runs(rt)], 30, message="signals run")[0]
    run = finished(rt, run_id, 60)
    assert run.status == "completed" and run.output["mode"] == "signals", run.error
    [found] = run.output["findings"]
    assert found["component"] == "error_rate" and "t-nonretriable x6" in found["summary"]
    assert run.output["notified"] == ["system.health.degraded"]
    assert Gateway(rt).queue.ready_count() == 1, "queued for the gateway"


def _confirming(rt: Runtime) -> tuple[str, list[str]]:
    """A core health check, held in its confirmation sleep; the components it found degraded."""
    [sent] = rt.send(Event(name="system/health.check", data={"mode": "core"}))
    run_id = sent.runs[0]
    wait_for(lambda: (r := rt.runs.get(run_id)) and r.status == "sleeping", 60,
             message="the check sleeping before it looks again")
    assert [s.key for s in rt.runs.steps(run_id)] == ["check", "confirm"]  # nothing told yet
    first = rt.runs.memo(run_id)["check"].value  # type: ignore[union-attr]
    return run_id, sorted(f["component"] for f in first["findings"])


def test_a_gateway_that_starts_within_the_grace_is_never_told_as_degraded(
    make: Callable[..., Settings], start: Callable[..., Runtime], tg: FakeTelegram,
    worker_factory: Callable[..., WorkerProcess],
) -> None:
    """What beat does after downtime: the missed heartbeat fires as the gateway starts."""
    settings = make(health_confirm_seconds=600)
    rt = start(settings, beat=True)  # no gateway worker yet: its heartbeat is missing
    check, found = _confirming(rt)
    assert found == ["gateway"]
    worker_factory(queues="gateway", concurrency=1, settings_override=settings)
    wait_for(lambda: "gateway" not in health.check(rt)["degraded"], 60,
             message="the gateway beating")
    wake_run(rt, check)
    run = finished(rt, check, 60)
    assert run.status == "completed", run.error
    assert run.output["notified"] == [] and run.output["recovered"] == ["gateway"]
    assert texts(tg) == []


def test_a_degradation_still_there_after_the_grace_is_told(
    make: Callable[..., Settings], start: Callable[..., Runtime], tg: FakeTelegram,
) -> None:
    rt = start(make(health_confirm_seconds=600, **dead_typesense()), gateway=True, beat=True)
    check, found = _confirming(rt)
    assert found == ["typesense"] and texts(tg) == []
    wake_run(rt, check)
    run = finished(rt, check, 60)
    assert run.output["notified"] == ["system.health.degraded"]
    assert run.output["recovered"] == []
    wait_for(lambda: texts(tg), 30, message="the degraded notice on Telegram")
    assert "typesense" in texts(tg)[0], texts(tg)
