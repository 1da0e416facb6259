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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import BaseSchedule, schedstate
from croniter import croniter

from joelclaw import keys
from joelclaw.bus.celery.reload import RELOAD_EXIT, reexec
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function, Registry
    from joelclaw.bus.ports import Bus, SendResult

log = logging.getLogger("joelclaw.cron")
CRON_TASK = "joelclaw.cron"
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
        return croniter(self.expression, moment.astimezone(self.tz)).get_next(datetime)

    def slot_at(self, moment: datetime) -> datetime:
        """The most recent cron time at or before `moment`."""
        start = moment.astimezone(self.tz) + timedelta(milliseconds=1)
        return croniter(self.expression, start).get_prev(datetime)

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        return self.next_after(_aware(last_run_at)) - datetime.now(UTC)

    def is_due(self, last_run_at: datetime) -> schedstate:
        now = datetime.now(UTC)
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
    for fn in registry:
        for index, trig in enumerate(fn.crons):
            name = fn.id if index == 0 else f"{fn.id}#{index}"
            entries[name] = {
                "task": CRON_TASK,
                "schedule": CronSchedule(trig.cron or "", trig.timezone),
                "args": [fn.id, trig.cron, trig.timezone],
                "options": {"queue": fn.queue},
            }
    entries.update(extra or {})
    return entries


def dispatch_tick(rt: Bus, fn: Function, slot: datetime, cron: str, tz: str) -> SendResult:
    """Start the run for one cron slot; the slot-derived id makes a second beat a no-op."""
    stamp = slot.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    event = Event(name=TICK_EVENT, id=f"cron-{fn.id}-{stamp}",
                  data={"function_id": fn.id, "cron": cron, "timezone": tz,
                        "slot": slot.isoformat()})
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
        self.publish_schedule()

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
        rt = self.bus
        fn_id, cron, tz = entry.args
        fn = rt.function(fn_id)
        if fn is None:
            log.error("cron entry %s names unknown function %s", entry.name, fn_id)
            return None
        slot = entry.schedule.slot_at(datetime.now(UTC))
        try:
            result = dispatch_tick(rt, fn, slot, cron, tz)
        except Exception:
            log.exception("cron tick for %s failed", fn_id)
            return None
        log.info("cron %s slot %s: %s %s", fn_id, slot.isoformat(), result.status, result.runs)
        return None


def scheduler_for(bus: Bus) -> type[DedupScheduler]:
    return type("DedupScheduler", (DedupScheduler,), {"bus": bus})
