"""Cron: time zones per entry, and one run per tick even with two beat processes."""

from __future__ import annotations

import shelve
import subprocess
import sys
import types
from datetime import UTC, datetime

import pytest

from joelclaw.bus.celery import CronSchedule, dispatch_tick, scheduler_for
from tests.support import REPO, env_for, wait_for

pytestmark = pytest.mark.timeout(150)


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
    def slots() -> list[str]:
        return [run.event["data"]["slot"] for run in runtime.runs.list(function="t-cron",
                                                                        limit=100)]

    def both_fired() -> bool:
        return all("cron t-cron slot" in (tmp_path / f"beat{i}.log").read_text()
                   for i in range(2))

    try:
        # t-cron fires every 2 s: wait (however slowly the beats start) until both beats have
        # fired and several ticks have run, rather than for a guessed number of seconds
        wait_for(lambda: both_fired() and len(slots()) >= 3, 80,
                 message="both beats firing and three ticks run")
    finally:
        for beat in beats:
            beat.terminate()
        for beat in beats:
            beat.wait(15)
    seen = slots()
    assert len(seen) >= 3
    assert len(seen) == len(set(seen)), "a tick ran twice"


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
