"""Cron: time zones per entry, and one run per tick even with two beat processes."""

from __future__ import annotations

import shelve
import subprocess
import sys
import time
import types
from datetime import UTC, datetime

import pytest

from joelclaw.bus.celery import CronSchedule, dispatch_tick, scheduler_for
from tests.support import REPO, env_for

pytestmark = pytest.mark.timeout(90)


def test_cron_runs_in_its_own_time_zone():
    nine_la = CronSchedule("0 9 * * *", "America/Los_Angeles")
    winter = nine_la.next_after(datetime(2026, 1, 10, 12, 0, tzinfo=UTC))
    summer = nine_la.next_after(datetime(2026, 7, 10, 12, 0, tzinfo=UTC))
    assert winter.astimezone(UTC).hour == 17  # PST, UTC-8
    assert summer.astimezone(UTC).hour == 16  # PDT, UTC-7


def test_a_slot_dispatched_twice_starts_one_run(runtime):
    fn = runtime.function("system-heartbeat")
    slot = datetime(2026, 11, 24, 12, 15, tzinfo=UTC)
    first = dispatch_tick(runtime, fn, slot, "*/15 * * * *", "UTC")
    second = dispatch_tick(runtime, fn, slot, "*/15 * * * *", "UTC")
    assert first.status == "dispatched" and second.status == "deduplicated"
    assert len(runtime.runs.list(function="system-heartbeat")) == 1


def test_two_beat_processes_run_each_tick_once(runtime, settings, worker, tmp_path):
    beats = []
    for index in range(2):
        log = (tmp_path / f"beat{index}.log").open("wb")
        beats.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "joelclaw.worker", "beat", "-l", "info",
             "-s", str(tmp_path / f"beat{index}-schedule")],
            cwd=REPO, env=env_for(settings), stdout=log, stderr=subprocess.STDOUT,
        ))
    try:
        time.sleep(9)
    finally:
        for beat in beats:
            beat.terminate()
        for beat in beats:
            beat.wait(15)
    runs = runtime.runs.list(function="t-cron", limit=100)
    slots = [run.event["data"]["slot"] for run in runs]
    assert len(slots) >= 3, "t-cron fires every 2 s: a 9 s window holds several ticks"
    assert len(slots) == len(set(slots)), "a tick ran twice"
    both = [(tmp_path / f"beat{i}.log").read_text() for i in range(2)]
    assert all("cron t-cron slot" in text for text in both), "both beats must have fired"


def test_beat_starts_on_a_schedule_file_that_names_code_which_moved(runtime, tmp_path):
    """A schedule file pickles CronSchedule by module path: one written before the class moved
    must not stop beat (Celery raises on it at every start); beat starts it afresh."""
    old = types.ModuleType("joelclaw.bus.cron")
    moved = type("CronSchedule", (), {"__module__": "joelclaw.bus.cron"})
    old.CronSchedule = moved  # type: ignore[attr-defined]  # a stand-in for the old module
    filename = str(tmp_path / "beat-schedule")
    sys.modules["joelclaw.bus.cron"] = old
    try:
        with shelve.open(filename) as store:
            store["entries"] = {"t-cron": moved()}
    finally:
        del sys.modules["joelclaw.bus.cron"]
    with pytest.raises(ModuleNotFoundError), shelve.open(filename, flag="r") as store:
        store["entries"]

    beat = scheduler_for(runtime)(app=runtime.celery, schedule_filename=filename)
    try:
        crons = {name: entry.schedule for name, entry in beat.schedule.items()
                 if isinstance(entry.schedule, CronSchedule)}
        assert crons, "the cron entries come back from the code"
    finally:
        beat.close()
    with shelve.open(filename, flag="r") as store:
        assert {type(entry.schedule) for entry in store["entries"].values()} >= {CronSchedule}
