"""Absence triggers: a run starts when an expected event has *not* arrived for a while.

`absent("health/sync.completed", for_="3d", key="data.device")` watches that event per device.
Every matching event (re)arms a deadline, `for_` after it arrived, as a wake-up target
`~absent~<fn>~<trigger index>:<key>` (joelclaw.bus.records.wakeups), so the same sweeper that
wakes sleeping runs and debounce timers fires it, across restarts. When a deadline comes due
the function runs once with a `joelclaw/absence.detected` event; the target is then gone until
the next matching event starts a new silence. The event's id is derived from the silence
(function, trigger, key, when it began), so two sweepers, or a sweeper that died after sending,
still start one run.

Without a key, the watch is armed when a worker starts (once: a silence that already fired is not
armed again by a restart), so "nothing ever arrived" is a silence too. With a key, only keys that
were seen are watched. Each target's facts are in `keys.ABSENCES`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.records import wakeups
from joelclaw.errors import JoelclawError
from joelclaw.events.model import Event
from joelclaw.expressions import ExpressionError

if TYPE_CHECKING:
    from joelclaw.bus.functions import Function, Trigger
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.absence")
SEP = keys.FLOW_TIMER
KIND = "absent"
PREFIX = f"{SEP}{KIND}{SEP}"
ABSENCE_EVENT = "joelclaw/absence.detected"


def target(function_id: str, index: int, key: str) -> str:
    return f"{PREFIX}{function_id}{SEP}{index}:{key}"


def parse(member: str) -> tuple[str, int, str]:
    """(function id, trigger index, key) of a target."""
    function_id, _, rest = member.removeprefix(PREFIX).partition(SEP)
    index, _, key = rest.partition(":")
    return function_id, int(index), key


def key_of(trig: Trigger, event: dict[str, Any]) -> str | None:
    """The watched key of this event ("" without a key); None when the event does not match."""
    variables = {"event": event}
    try:
        if trig.filter is not None and not trig.filter.evaluate(variables):
            return None
        value = trig.absent_key.evaluate(variables) if trig.absent_key is not None else ""
    except (ExpressionError, JoelclawError):
        return None
    return "" if value is None else str(value)


def observe(rt: Bus, event: dict[str, Any], now: float) -> int:
    """A new event arrived: (re)arm every absence it resets; returns how many."""
    watchers = rt.registry.absences(event["name"])
    if not watchers:
        return 0
    pipe = rt.redis.pipeline(transaction=False)
    armed = 0
    for fn, index, trig in watchers:
        key = key_of(trig, event)
        if key is None:
            continue
        member = target(fn.id, index, key)
        wakeups.schedule(pipe, {member: now + trig.absent_for}, earlier_only=False)
        pipe.hset(keys.ABSENCES, member, json.dumps(
            {"armed_at": now, "last_at": now, "last_event": event.get("id"), "fired_at": None}))
        armed += 1
    if armed:
        pipe.execute()
    return armed


def arm_unkeyed(rt: Bus, now: float | None = None) -> int:
    """Watch every key-less absence that has never been armed (a worker starting)."""
    now = time.time() if now is None else now
    armed = 0
    for fn, index, trig in rt.registry.absences():
        if trig.absent_key is not None:
            continue
        member = target(fn.id, index, "")
        state = {"armed_at": now, "last_at": None, "last_event": None, "fired_at": None}
        if rt.redis.hsetnx(keys.ABSENCES, member, json.dumps(state)):
            wakeups.schedule(rt.redis, {member: now + trig.absent_for})
            armed += 1
    return armed


def _trigger(rt: Bus, function_id: str, index: int) -> tuple[Function, Trigger] | None:
    fn = rt.function(function_id)
    if fn is None or index >= len(fn.triggers) or not fn.triggers[index].absent:
        return None
    return fn, fn.triggers[index]


def fire(rt: Bus, member: str) -> bool:
    """A deadline came due: start the function's run for this silence (once)."""
    function_id, index, key = parse(member)
    found = _trigger(rt, function_id, index)
    if found is None:  # the function or its trigger is gone: forget the watch
        log.warning("absence %s belongs to no loaded absent trigger; dropped", member)
        rt.redis.hdel(keys.ABSENCES, member)
        return False
    fn, trig = found
    now = time.time()
    state = json.loads(rt.redis.hget(keys.ABSENCES, member) or "{}")
    since = float(state.get("last_at") or state.get("armed_at") or now - trig.absent_for)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    event = Event(name=ABSENCE_EVENT, id=f"absent-{fn.id}-{index}-{digest}-{int(since * 1000)}",
                  data={"function_id": fn.id, "event": trig.absent, "key": key or None,
                        "for_s": trig.absent_for, "since": since,
                        "silent_s": round(now - since, 3),
                        "last_event_id": state.get("last_event")})
    result = rt.send([event], only=fn, trigger=KIND)[0]
    state["fired_at"] = now
    rt.redis.hset(keys.ABSENCES, member, json.dumps(state))
    log.info("absence of %s (%s) for %s: %s %s", trig.absent, key or "-", fn.id,
             result.status, result.runs)
    return True


def watches(rt: Bus, now: float | None = None) -> list[dict[str, Any]]:
    """Every absence watch: what it waits for, its deadline (None once it fired), its history."""
    now = time.time() if now is None else now
    states = {k.decode(): json.loads(v) for k, v in rt.redis.hgetall(keys.ABSENCES).items()}
    rows = []
    for member in sorted(states):
        due = wakeups.due_of(rt.redis, member)[0]
        function_id, index, key = parse(member)
        found = _trigger(rt, function_id, index)
        state = states[member]
        rows.append({"function": function_id, "event": found[1].absent if found else None,
                     "key": key or None, "for_s": found[1].absent_for if found else None,
                     "due_at": float(due) if due is not None else None,
                     "status": "watching" if due is not None else "fired",
                     "last_at": state.get("last_at"), "fired_at": state.get("fired_at")})
    return sorted(rows, key=lambda r: (r["due_at"] is None, r["due_at"] or 0, r["function"]))
