"""Catch-up after downtime: each cron's policy for the fires missed while beat was not running,
planned (pure) and applied by a real beat, with real workers running the runs."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from joelclaw import keys
from joelclaw.bus.celery import CronSchedule, catchup, last_field
from joelclaw.bus.functions import cron
from joelclaw.errors import FunctionDefinitionError
from joelclaw.gateway.clock import set_offset
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import wait_for

pytestmark = pytest.mark.timeout(150)
EVERY5 = "*/5 * * * *"
BASE = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return BASE + timedelta(minutes=minutes)


# ---- the plan ---------------------------------------------------------------------------------

def test_an_ordinary_fire_is_one_slot_with_no_catch_up() -> None:
    owed = catchup.plan(EVERY5, "UTC", at(0), at(5) + timedelta(seconds=1), "latest")
    assert [f.slot for f in owed.fires] == [at(5)] and owed.fires[0].catch_up is None
    assert owed.missed == 0 and owed.latest == at(5)
    assert catchup.plan(EVERY5, "UTC", at(5), at(7), "latest").fires == []  # nothing new since


def test_latest_runs_once_for_the_newest_missed_fire() -> None:
    owed = catchup.plan(EVERY5, "UTC", at(0), at(17), "latest")  # 10:05, 10:10, 10:15 missed
    assert [f.slot for f in owed.fires] == [at(15)]
    assert owed.fires[0].catch_up == {"policy": "latest", "missed": 3, "dropped": 2,
                                      "since": at(0).isoformat(), "late_s": 120.0}


def test_skip_runs_nothing_missed() -> None:
    owed = catchup.plan(EVERY5, "UTC", at(0), at(17), "skip")
    assert owed.fires == [] and owed.missed == owed.dropped == 3 and owed.latest == at(15)


def test_all_runs_the_newest_cap_oldest_first() -> None:
    owed = catchup.plan(EVERY5, "UTC", at(0), at(17), "all", cap=2)
    assert [f.slot for f in owed.fires] == [at(10), at(15)]
    assert {f.catch_up["dropped"] for f in owed.fires} == {1}  # type: ignore[index]


def test_a_slot_within_the_grace_is_on_time_and_stands_for_the_missed_ones() -> None:
    """Back 20 s after 10:15: that fire is on time; 10:05 and 10:10 were missed."""
    now = at(15) + timedelta(seconds=20)
    latest = catchup.plan(EVERY5, "UTC", at(0), now, "latest")
    assert [f.slot for f in latest.fires] == [at(15)]
    assert latest.fires[0].catch_up["missed"] == 2  # type: ignore[index]
    skip = catchup.plan(EVERY5, "UTC", at(0), now, "skip")
    assert [f.slot for f in skip.fires] == [at(15)] and skip.dropped == 2
    every = catchup.plan(EVERY5, "UTC", at(0), now, "all", cap=10)
    assert [f.slot for f in every.fires] == [at(5), at(10), at(15)] and every.dropped == 0


def test_a_week_asleep_is_counted_without_walking_forever() -> None:
    owed = catchup.plan("* * * * *", "UTC", at(0), at(7 * 24 * 60 + 30), "latest")
    # counted up to the limit (10 000 slots, the on-time one among them), run once
    assert owed.missed == 9_999 and len(owed.fires) == 1


def test_a_cron_declares_its_policy_and_a_bad_one_is_refused() -> None:
    assert cron(EVERY5).catch_up == "latest"
    trig = cron(EVERY5, catch_up="all", cap=3)
    assert trig.describe() == "cron */5 * * * * (UTC, catch-up all, 3 at most)"
    with pytest.raises(FunctionDefinitionError, match="expected one of skip, latest, all"):
        cron(EVERY5, catch_up="some")
    with pytest.raises(FunctionDefinitionError, match="cap=0"):
        cron(EVERY5, catch_up="all", cap=0)


# ---- a real beat stopped across three fire times ---------------------------------------------

def test_a_cron_catches_up_by_its_policy_after_beat_was_stopped_across_three_fires(
        tmp_path, redis_url, worker_factory, beat_factory) -> None:
    settings = make_settings(tmp_path / "home", redis_url,
                             function_modules=["tests.catchup_functions"])
    rt = Runtime(settings)
    client = rt.redis
    worker_factory(settings_override=settings)
    names = ["t-catchup-latest", "t-catchup-skip", "t-catchup-all"]
    fields = [last_field(name, EVERY5, "UTC") for name in names]

    beat = beat_factory(settings)  # it starts by recording where each cron stands
    wait_for(lambda: all(client.hexists(keys.CRON_LAST, f) for f in fields), timeout=60,
             message="beat records each cron's last handled slot")
    beat.stop()
    last = datetime.fromtimestamp(float(client.hget(keys.CRON_LAST, fields[0])), UTC)
    slot = CronSchedule(EVERY5).slot_at(last)
    # Seventeen minutes later: the three fires after `slot` came due while beat was stopped.
    back = slot + timedelta(minutes=17)
    set_offset(client, back.timestamp() - time.time(), ttl=600)
    missed = [slot + timedelta(minutes=m) for m in (5, 10, 15)]

    beat = beat_factory(settings)
    try:
        wait_for(lambda: client.hlen(keys.CRON_CATCHUP) >= 3, timeout=60,
                 message="beat applies each policy at start")
        def ended(name: str, count: int) -> list:
            runs = rt.runs.list(function=name, limit=20)
            return runs if len(runs) == count and all(
                r.status == "completed" for r in runs) else []
        latest = wait_for(lambda: ended("t-catchup-latest", 1), timeout=60,
                          message="the one catch-up run of `latest`")
        every = wait_for(lambda: ended("t-catchup-all", 2), timeout=60,
                         message="the two newest missed fires of `all`")
        tick = client.get(keys.BEAT_TICK)
        wait_for(lambda: client.get(keys.BEAT_TICK) != tick, timeout=30,
                 message="beat ticks on")  # and still nothing more is owed
    finally:
        beat.stop()  # before time goes back
        set_offset(client, 0)
    assert len(rt.runs.list(function="t-catchup-latest", limit=20)) == 1
    assert rt.runs.list(function="t-catchup-skip", limit=20) == []
    assert len(rt.runs.list(function="t-catchup-all", limit=20)) == 2

    output = latest[0].output
    assert output["slot"] == missed[-1].isoformat()
    assert output["catch_up"]["policy"] == "latest"
    assert output["catch_up"]["missed"] == 3 and output["catch_up"]["dropped"] == 2
    assert sorted(r.output["slot"] for r in every) == [s.isoformat() for s in missed[1:]]
    summaries = {k.decode(): json.loads(v) for k, v in client.hgetall(keys.CRON_CATCHUP).items()}
    assert summaries["t-catchup-skip"]["missed"] == 3
    assert summaries["t-catchup-skip"]["dispatched"] == []

    from joelclaw.insight.schedule import crons

    rows = {c["function"]: c for c in crons(rt) if c["function"] in names}
    assert rows["t-catchup-all"]["catch_up"] == "all, 2 at most"
    assert rows["t-catchup-skip"]["last_catch_up"]["dropped"] == 3
