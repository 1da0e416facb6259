"""Debounce and batch: events are held in Redis and a durable timer starts the run later.

A timer is a wake-up target `~debounce~<fn>~<key>` or `~batch~<fn>~<key>` in `jc:wakeups`, so
the same sweeper that wakes sleeping runs fires them, across restarts. No run exists until the
timer fires (as in Inngest); the run then gets the last event (debounce) or the list (batch).
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.functions.options import key_value
from joelclaw.bus.records import wakeups
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.flow")
SEP = keys.FLOW_TIMER


def timer_target(kind: str, function_id: str, key: str) -> str:
    return f"{SEP}{kind}{SEP}{function_id}{SEP}{key}"


def defer(rt: Bus, fn: Function, event: dict[str, Any]) -> list[str]:
    """Hold the event for a debounced or batched function; returns runs started now (full batch)."""
    flow = fn.flow
    assert flow is not None
    now = time.time()
    if flow.debounce is not None:
        deb = flow.debounce
        key = key_value(deb.key, event)
        rt.scripts.flow_debounce(
            keys=[keys.flow_debounce(fn.id, key), wakeups.SETS.wakeups],
            args=[json.dumps(event), now, deb.period, "" if deb.timeout is None else deb.timeout,
                  timer_target("debounce", fn.id, key)])
        return []
    assert flow.batch is not None
    key = key_value(flow.batch.key, event)
    full = rt.scripts.flow_batch(
        keys=[keys.flow_batch(fn.id, key), keys.flow_batch_due(fn.id, key),
              wakeups.SETS.wakeups],
        args=[json.dumps(event), now, flow.batch.timeout, flow.batch.max_size,
              timer_target("batch", fn.id, key)])
    return _start_batch(rt, fn, full)


def fire(rt: Bus, target: str) -> bool:
    """A timer is due: take what it holds and start the run (or re-arm if it moved later)."""
    _, kind, function_id, key = target.split(SEP, 3)
    fn = rt.function(function_id)
    if fn is None or fn.flow is None:
        log.error("timer %s belongs to a function this process does not know", target)
        return False
    now = time.time()
    if kind == "debounce":
        raw = rt.scripts.flow_debounce_take(
            keys=[keys.flow_debounce(function_id, key), wakeups.SETS.wakeups],
            args=[now, target])
        if raw:
            _start(rt, fn, [json.loads(raw)], "debounce")
        return True
    taken = rt.scripts.flow_batch_take(
        keys=[keys.flow_batch(function_id, key), keys.flow_batch_due(function_id, key),
              wakeups.SETS.wakeups], args=[now, target])
    _start_batch(rt, fn, taken)
    return True


def _start_batch(rt: Bus, fn: Function, raw_events: list[Any]) -> list[str]:
    if not raw_events:
        return []
    return _start(rt, fn, [json.loads(raw) for raw in raw_events], "batch")


def _start(rt: Bus, fn: Function, events: list[dict[str, Any]], trigger: str) -> list[str]:
    """A run of `fn` for the held event(s); the first event is the run's `event`.

    The take already removed the events: if the run cannot be created (Redis blip), they are
    held again with a fresh timer, so they are delayed, not lost.
    """
    first = Event.model_validate(events[0])
    batch = events if trigger == "batch" else None
    try:
        result = rt.send([first], only=fn, trigger=trigger, skip_dedup=True, batch=batch)
    except Exception:
        log.exception("could not start the %s run of %s; holding its events again", trigger,
                      fn.id)
        _hold_again(rt, fn, events, trigger)
        raise
    return result[0].runs


def _hold_again(rt: Bus, fn: Function, events: list[dict[str, Any]], trigger: str) -> None:
    """Put taken events back (no size check, so a failing start cannot recurse)."""
    if trigger == "debounce":
        defer(rt, fn, events[0])
        return
    batch = fn.flow.batch  # type: ignore[union-attr]  # only batched functions hold batches
    assert batch is not None
    key = key_value(batch.key, events[0])
    due = time.time() + batch.timeout
    pipe = rt.redis.pipeline(transaction=True)
    pipe.rpush(keys.flow_batch(fn.id, key), *[json.dumps(e) for e in events])
    pipe.set(keys.flow_batch_due(fn.id, key), f"{due:.3f}")
    wakeups.schedule(pipe, {timer_target("batch", fn.id, key): due}, earlier_only=False)
    pipe.execute()
