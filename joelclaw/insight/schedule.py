"""What happens next: cron fires (every beat entry, next fire time in its own zone) and durable
wake-ups (sleeps ending, retries, wait deadlines, flow-control rechecks, debounce and batch
timers), as `joelclaw schedule` lists them and the dashboard's functions page shows them.

The cron entries are beat's (`joelclaw.bus.celery.beat_schedule_for`): the functions' crons, read
from the registry as beat names them, then the application's extra entries over them. Only extra
entries (Celery schedules) make this load Celery; the functions' own are answered without it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.delivery import parse_target
from joelclaw.bus.flow import absence
from joelclaw.bus.functions import CRON_TASK, next_fire
from joelclaw.bus.records import wakeups as durable

if TYPE_CHECKING:
    from joelclaw.bus.functions import Trigger
    from joelclaw.bus.ports import Bus
    from joelclaw.runtime import Runtime

WHY = {"sleeping": "sleep ends", "waiting": "wait deadline", "queued": "retry or recheck",
       "running": "lease check"}


def cron_entry(name: str, entry: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A beat entry as data; next fire times in its own zone and in UTC."""
    from joelclaw.bus.celery import CronSchedule  # an extra entry's schedule is Celery's

    sched = entry["schedule"]
    args = entry.get("args") or []
    function = args[0] if entry.get("task") == CRON_TASK and args else entry.get("task")
    row: dict[str, Any] = {"entry": name, "function": function, "task": entry.get("task"),
                           "expression": str(sched), "timezone": None, "next_local": None,
                           "next_utc": None, "next_epoch": None}
    if isinstance(sched, CronSchedule):
        row.update(expression=sched.expression, timezone=sched.timezone,
                   **_next(sched.next_after(now)))
    return row


def function_cron(name: str, function: str, trigger: Trigger, now: datetime
                  ) -> dict[str, Any]:
    """A function cron's beat entry as `cron_entry` shows it, without building the entry."""
    return {"entry": name, "function": function, "task": CRON_TASK,
            "expression": trigger.cron, "timezone": trigger.timezone,
            **_next(next_fire(trigger.cron or "", trigger.timezone, now))}


def _next(fire: datetime) -> dict[str, Any]:
    """A next fire time as every cron row gives it: in its own zone, in UTC, as epoch."""
    return {"next_local": fire.isoformat(), "next_utc": fire.astimezone(UTC).isoformat(),
            "next_epoch": fire.timestamp()}


def crons(rt: Runtime, now: datetime | None = None) -> list[dict[str, Any]]:
    now = now or datetime.now(UTC)
    found = {name: function_cron(name, fn.id, trig, now) for name, fn, trig in rt.registry.crons()}
    extra = rt.application.extra_beat_entries(rt)
    found.update({name: cron_entry(name, entry, now) for name, entry in extra.items()})
    rows = list(found.values())
    _with_catch_up(rt, rows)
    return sorted(rows, key=lambda c: (c["next_epoch"] or float("inf"), c["entry"]))


def _with_catch_up(rt: Bus, rows: list[dict[str, Any]]) -> None:
    """Each function cron's catch-up policy (joelclaw.bus.celery.catchup) and its last catch-up."""
    import json

    from joelclaw.redisconn.errors import errors

    caught: tuple[type[Exception], ...] = (*errors(), ValueError)
    try:
        last = {k.decode(): json.loads(v) for k, v in rt.redis.hgetall(keys.CRON_CATCHUP).items()}
    except caught:
        last = {}
    for row in rows:
        fn = rt.function(row["function"]) if row["task"] == CRON_TASK else None
        trig = next((t for t in fn.crons if t.cron == row["expression"]
                     and t.timezone == row["timezone"]), None) if fn else None
        row["catch_up"] = trig.catch_up_text if trig else None
        row["last_catch_up"] = last.get(row["entry"])


def wakeups(rt: Bus, count: int) -> dict[str, Any]:
    """Durable sleeps, retries and rechecks (`wakeup`), and published runs' safety checks
    (`outbox`: published again then if their broker message is gone), soonest first."""
    pending = durable.pending(rt.redis)
    due = [(kind, member, at) for kind in ("wakeup", "outbox")
           for member, at in durable.due_next(rt.redis, count, outbox=kind == "outbox")]
    members = sorted(due, key=lambda row: row[2])[:count]
    functions = rt.runs.functions_of([parse_target(member)[0] for _, member, _ in members])
    rows = [{"member": member, "kind": kind, "run": parse_target(member)[0], "function": fn,
             "due_at": score,
             "due_utc": datetime.fromtimestamp(score, UTC).isoformat(timespec="seconds")}
            for (kind, member, score), fn in zip(members, functions, strict=True)]
    return {"pending": pending, "next": rows}


def timeline(rt: Runtime, count: int = 12) -> list[dict[str, Any]]:
    """The next `count` things that will happen by themselves, soonest first: each cron's next
    fire and the due wake-ups (what each one is, from its run's state)."""
    items = [{"at": c["next_epoch"], "kind": "cron", "function": c["function"],
              "what": f"cron {c['expression']} ({c['timezone']})"}
             for c in crons(rt) if c["next_epoch"] is not None]
    due = durable.due_next(rt.redis, count)
    runs = [(target, at) for target, at in due if not target.startswith(keys.FLOW_TIMER)]
    heads = rt.runs.heads([parse_target(t)[0] for t, _ in runs], ("function", "status"))
    for (target, at), head in zip(runs, heads, strict=True):
        if head is not None:
            items.append({"at": at, "kind": "wakeup", "function": head.function,
                          "run": parse_target(target)[0],
                          "what": WHY.get(head.status, head.status)})
    for target, at in due:
        if target.startswith(absence.PREFIX):
            function, _index, key = absence.parse(target)
            items.append({"at": at, "kind": "absence", "function": function,
                          "what": "silence fires" + (f" for {key}" if key else "")})
        elif target.startswith(keys.FLOW_TIMER):
            _, kind, function, _key = target.split(keys.FLOW_TIMER, 3)
            items.append({"at": at, "kind": "timer", "function": function,
                          "what": f"{kind} timer fires"})
    return sorted(items, key=lambda i: i["at"])[:count]
