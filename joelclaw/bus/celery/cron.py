"""Cron for durable functions on Celery beat, with a time zone per entry and one run per tick.

Beat evaluates each function's cron trigger with croniter in the trigger's own time zone (so DST
is right), and dispatches the tick itself as an event whose id is the function id plus the cron
slot. Two beat processes produce the same id for the same slot, and event deduplication keeps one.
"""

from __future__ import annotations

import json
import logging
import os
import shelve
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import BaseSchedule, schedstate
from croniter import croniter

from joelclaw import keys
from joelclaw.bus.celery import catchup
from joelclaw.bus.celery.reload import RELOAD_EXIT, reexec
from joelclaw.bus.functions.registry import CRON_TASK, next_fire
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function, Registry
    from joelclaw.bus.ports import Bus, SendResult

log = logging.getLogger("joelclaw.cron")
TICK_EVENT = "joelclaw/cron.tick"
# Beat looks at least this often at the clock and for a reload, stamping its tick each time:
# well inside the 10 s after which /health calls it stale (joelclaw.health.STALE_SECONDS).
TICK_MAX_SECONDS = 2.0


class CronSchedule(BaseSchedule):
    """A cron expression evaluated in its own time zone."""

    def __init__(self, expression: str, timezone: str = "UTC", app: Any = None):
        super().__init__(app=app)
        self.expression, self.timezone = expression, timezone
        self.tz = ZoneInfo(timezone)

    def next_after(self, moment: datetime) -> datetime:
        return next_fire(self.expression, self.timezone, moment)

    def slot_at(self, moment: datetime) -> datetime:
        """The most recent cron time at or before `moment`."""
        start = moment.astimezone(self.tz) + timedelta(milliseconds=1)
        return croniter(self.expression, start).get_prev(datetime)

    def now(self) -> datetime:
        """Beat binds its clock here (`nowfun`: real time plus `jc:clock:offset`), so Celery's
        own bookkeeping and our slots agree on the time."""
        return self.nowfun() if self.nowfun else datetime.now(UTC)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        return self.next_after(_aware(last_run_at)) - self.now()

    def is_due(self, last_run_at: datetime) -> schedstate:
        now = self.now()
        due = now >= self.next_after(_aware(last_run_at))
        upcoming = self.next_after(now) if due else self.next_after(_aware(last_run_at))
        return schedstate(due, max(0.5, min(60.0, (upcoming - now).total_seconds())))

    def __repr__(self) -> str:
        return f"<cron {self.expression} {self.timezone}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (self.__class__, (self.expression, self.timezone))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def beat_schedule_for(registry: Registry, extra: dict[str, dict[str, Any]] | None = None
                      ) -> dict[str, dict[str, Any]]:
    """Celery beat entries for every cron trigger, plus the application's extra entries."""
    entries: dict[str, dict[str, Any]] = {}
    for name, fn, trig in registry.crons():
        entries[name] = {
            "task": CRON_TASK,
            "schedule": CronSchedule(trig.cron or "", trig.timezone),
            "args": [fn.id, trig.cron, trig.timezone],
            "options": {"queue": fn.queue},
        }
    entries.update(extra or {})
    return entries


def last_field(entry: str, cron: str, tz: str) -> str:
    """The field of `keys.CRON_LAST` that holds an entry's newest handled slot (a timestamp)."""
    return f"{entry}|{cron}|{tz}"


def dispatch_tick(rt: Bus, fn: Function, slot: datetime, cron: str, tz: str,
                  catch_up: dict[str, Any] | None = None) -> SendResult:
    """Start the run for one cron slot; the slot-derived id makes a second beat a no-op.
    `catch_up` (joelclaw.bus.celery.catchup) says which missed fires this run stands for."""
    stamp = slot.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    data: dict[str, Any] = {"function_id": fn.id, "cron": cron, "timezone": tz,
                            "slot": slot.isoformat()}
    if catch_up:
        data["catch_up"] = catch_up
    event = Event(name=TICK_EVENT, id=f"cron-{fn.id}-{stamp}", data=data)
    return rt.send([event], only=fn, trigger="cron")[0]


def forget_moved_schedule(filename: str) -> bool:
    """Remove a beat schedule file whose entries name code that moved; True if it did.

    The file pickles each entry's schedule by its class's module path: one written before a class
    moved (`CronSchedule` lived in `joelclaw.bus.cron`) cannot be read, and Celery would stop beat
    on it at every start. Its entries come from the code anyway (a tick is deduplicated by slot),
    so beat starts it afresh. A missing or otherwise unreadable file is left to Celery."""
    try:
        with shelve.open(filename, flag="r") as store:
            store.get("entries")
    except (ImportError, AttributeError) as exc:
        log.warning("beat schedule %s names code that moved (%s): starting afresh", filename, exc)
        for suffix in ("", ".db", ".dat", ".dir", ".bak"):
            Path(filename + suffix).unlink(missing_ok=True)
        return True
    except Exception:
        return False
    return False


class DedupScheduler(PersistentScheduler):
    """Beat that dispatches cron ticks itself, deduplicated by slot, and reports it is alive.

    Bound to its bus with `scheduler_for(bus)`, which the Celery app factory names as beat's
    scheduler class.
    """

    bus: Bus

    def __init__(self, *args: Any, **kwargs: Any):
        home = self.bus.settings.home_dir
        kwargs.setdefault("schedule_filename", str(home / "beat-schedule"))
        home.mkdir(parents=True, exist_ok=True)
        forget_moved_schedule(kwargs["schedule_filename"])
        try:  # reloads after this one rebuild the schedule (see joelclaw.bus.celery.reload)
            self.bus.code.begin()
        except Exception:
            log.warning("beat could not read the reload generation")
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        super().setup_schedule()
        now = beat_clock(self.bus)
        for entry in self.schedule.values():
            if isinstance(entry.schedule, CronSchedule):
                entry.schedule.nowfun = now
        self.publish_schedule()
        self.catch_up()

    def catch_up(self) -> None:
        """At start, every cron entry's fires missed while beat was down, by its policy."""
        for entry in list(self.schedule.values()):
            if entry.task == CRON_TASK:
                try:
                    self.fire(entry)
                except Exception:  # Redis down at start: the entry's next fire plans again
                    log.exception("cron catch-up for %s failed", entry.name)

    def publish_schedule(self) -> None:
        """The entries beat runs, in Redis, so `joelclaw reload` (and tests) can see a
        changed cron taken up without waiting for it to fire."""
        code = self.bus.code
        entries = {name: {"task": entry.task, "schedule": repr(entry.schedule),
                          "args": list(entry.args or ())}
                   for name, entry in self.schedule.items()}
        try:
            self.bus.redis.set(keys.BEAT_SCHEDULE, json.dumps({
                "at": time.time(), "generation": code.generation,
                "code_version": code.version, "entries": entries}, default=str))
        except Exception:
            log.warning("beat could not record its schedule")

    def tick(self, *args: Any, **kwargs: Any) -> float:
        rt = self.bus
        try:
            rt.redis.set(keys.BEAT_TICK, time.time())
        except Exception:
            log.warning("beat could not record its tick")
        if rt.code.pending():
            self.restart_for_reload()
        return min(super().tick(*args, **kwargs), TICK_MAX_SECONDS)

    def restart_for_reload(self) -> None:
        """A reload: save the schedule's state, then start again on the new code (exit for
        `joelclaw up`, which starts beat again at once; re-execute when started by hand)."""
        log.warning("code reload: beat restarts to rebuild its schedule from the new code")
        self.close()
        if self.bus.settings.worker.supervised:
            logging.shutdown()
            os._exit(RELOAD_EXIT)
        reexec()

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        if entry.task != CRON_TASK:
            return super().apply_entry(entry, producer=producer)
        try:
            self.fire(entry)
        except Exception:  # Redis away: beat lives on, and the next fire plans these slots
            log.exception("cron %s could not fire", entry.name)
        return None

    def fire(self, entry: ScheduleEntry) -> None:
        """Dispatch what the slots since the entry's last handled one owe: the due slot, and
        missed ones by the trigger's catch-up policy (joelclaw.bus.celery.catchup)."""
        rt = self.bus
        fn_id, cron, tz = entry.args
        fn = rt.function(fn_id)
        if fn is None:
            log.error("cron entry %s names unknown function %s", entry.name, fn_id)
            return
        trig = next((t for t in fn.crons if t.cron == cron and t.timezone == tz), None)
        policy, cap = (trig.catch_up, trig.catch_up_cap) if trig else ("latest", 10)
        field = last_field(entry.name, cron, tz)
        schedule: CronSchedule = entry.schedule
        now = schedule.now()
        recorded = rt.redis.hget(keys.CRON_LAST, field)
        last = (datetime.fromtimestamp(float(recorded), UTC) if recorded is not None
                else _aware(entry.last_run_at))
        owed = catchup.plan(cron, tz, last, now, policy, cap)
        for fire in owed.fires:
            try:
                result = dispatch_tick(rt, fn, fire.slot, cron, tz, fire.catch_up)
            except Exception:
                log.exception("cron tick for %s failed", fn_id)
                return  # not recorded: the next fire plans these slots again
            log.info("cron %s slot %s: %s %s%s", fn_id, fire.slot.isoformat(), result.status,
                     result.runs, f" (catch-up {fire.catch_up})" if fire.catch_up else "")
        rt.redis.hset(keys.CRON_LAST, field, (owed.latest or last).timestamp())
        if owed.missed:
            log.warning("cron %s: %d fire(s) missed while beat was not running; catch-up %s "
                        "ran %d", fn_id, owed.missed, policy,
                        sum(1 for f in owed.fires if f.catch_up))
            rt.redis.hset(keys.CRON_CATCHUP, entry.name,
                          json.dumps(owed.summary(policy, now)))


def beat_clock(bus: Bus) -> Callable[[], datetime]:
    """Beat's now: real time plus the system clock's offset (`keys.CLOCK_OFFSET`, which
    joelclaw.gateway.clock sets; the bus reads the key, it knows no gateway), read at most once
    a second; a Redis that does not answer leaves the last offset in place."""
    cached = {"offset": 0.0, "read": float("-inf")}

    def now() -> datetime:
        if time.monotonic() - cached["read"] >= 1.0:
            cached["read"] = time.monotonic()
            try:
                raw = bus.redis.get(keys.CLOCK_OFFSET)
                cached["offset"] = float(raw) if raw else 0.0
            except Exception:
                log.debug("beat could not read the clock offset")
        return datetime.fromtimestamp(time.time() + cached["offset"], UTC)

    return now


def scheduler_for(bus: Bus) -> type[DedupScheduler]:
    return type("DedupScheduler", (DedupScheduler,), {"bus": bus})
