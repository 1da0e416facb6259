"""`wait_for_event`: parked runs waiting for a matching event, resolved exactly once.

A waiter is a field of `jc:waits:<event name>`. Whoever deletes the field first (the dispatcher
of a matching event, or the run itself on timeout or lookback) stores the step's result and, for
the dispatcher, wakes the run. Registering the waiter *before* looking back over events received
since the run started means an event arriving at any moment is seen by one side or the other.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.expressions import compile_expression

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime

WAIT_NAMES = frozenset({"event", "async"})


def waiter_field(run_id: str, step_key: str) -> str:
    return f"{run_id}|{step_key}"


def matches(spec: dict[str, Any], candidate: dict[str, Any]) -> bool:
    """`match` compares one dotted path in both events; `if` is an expression over both."""
    if candidate.get("id") == spec["trigger"].get("id"):
        return False
    if spec.get("match"):
        return _path(spec["trigger"], spec["match"]) == _path(candidate, spec["match"])
    if spec.get("if"):
        expr = compile_expression(spec["if"], names=WAIT_NAMES)
        return bool(expr.evaluate({"event": spec["trigger"], "async": candidate}))
    return True


def _path(obj: Any, dotted: str) -> Any:
    for part in dotted.removeprefix("event.").removeprefix("async.").split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def register(rt: Runtime, run_id: str, step_key: str, spec: dict[str, Any]) -> None:
    rt.redis.hset(keys.waits(spec["event"]), waiter_field(run_id, step_key), json.dumps(spec))


def resolve(
    rt: Runtime, run_id: str, step_key: str, event_name: str, result: Any, *, wake: bool
) -> bool:
    """Store `result` as the step's memo if this caller is first; optionally wake the run."""
    won = rt.scripts.resolve(
        keys=[keys.waits(event_name), keys.run_memo(run_id), keys.WAKEUPS],
        args=[waiter_field(run_id, step_key), step_key, json.dumps({"v": result}),
              time.time(), run_id if wake else ""],
    )
    return bool(won)


def resolve_for_event(rt: Runtime, event: dict[str, Any], waiting: dict[bytes, bytes]) -> int:
    """Hand a new event to the runs waiting for it; publish the woken runs at once."""
    resolved = 0
    for field, raw in waiting.items():
        spec = json.loads(raw)
        if spec["expires"] < time.time() or not matches(spec, event):
            continue
        if spec.get("kind") == "cancel":  # a cancel_on listener (see joelclaw.bus.flow.cancel)
            from joelclaw.bus.flow import cancel

            resolved += cancel.fire(rt, field.decode(), spec, event)
            continue
        run_id, step_key = field.decode().split("|", 1)
        if resolve(rt, run_id, step_key, event["name"], event, wake=True):
            resolved += 1
            rt.publish(run_id)
    return resolved


def lookback(rt: Runtime, spec: dict[str, Any], since_ms: float) -> dict[str, Any] | None:
    """The first event since the run started that satisfies the wait, if any."""
    from joelclaw.events.store import recent_by_name

    for candidate in recent_by_name(rt, spec["event"], since_ms):
        if matches(spec, candidate):
            return candidate
    return None
