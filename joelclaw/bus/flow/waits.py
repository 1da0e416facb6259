"""`wait_for_event`: parked runs waiting for a matching event, resolved exactly once.

A waiter is a field of `jc:waits:<event name>`. Whoever deletes the field first (the dispatcher
of a matching event, or the run itself on timeout or lookback) stores the step's result and, for
the dispatcher, wakes the run. Registering the waiter *before* looking back over events received
since the run started means an event arriving at any moment is seen by one side or the other.
`cancel_on` listeners live in the same registry (`kind: cancel`, see joelclaw.bus.flow.cancel).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.records.memo import Done
from joelclaw.events.store import recent_by_name
from joelclaw.expressions import compile_expression

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

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


def expected(wait: dict[str, Any], trigger: dict[str, Any]) -> Any:
    """The value a `match` wait expects at its path (taken from the run's own event)."""
    return _path(trigger, wait["match"]) if wait.get("match") else None


def answer(wait: dict[str, Any], trigger: dict[str, Any]) -> dict[str, Any]:
    """The data of an event that answers this wait: the matched field set to its expected
    value (a `match` wait); `{}` otherwise (an `if_` wait says in its expression what fits)."""
    data: dict[str, Any] = {}
    path = (wait.get("match") or "").removeprefix("event.").removeprefix("async.")
    parts = path.split(".")
    if not wait.get("match") or parts[0] != "data" or len(parts) < 2:
        return data
    node = data
    for part in parts[1:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = _path(trigger, wait["match"])
    return data


def waiting(rt: Bus, limit: int = 200) -> list[dict[str, Any]]:
    """Runs waiting for an event (not cancel_on listeners), soonest deadline first:
    `{run, step, event, match, if, expires, expected, answer}`."""
    out: list[dict[str, Any]] = []
    for key in rt.redis.scan_iter(match=keys.waits("*"), count=500):
        for field, raw in rt.redis.hgetall(key).items():
            spec = json.loads(raw)
            if spec.get("kind") == "cancel":
                continue
            run_id, _, step = field.decode().partition("|")
            trigger = spec.get("trigger") or {}
            out.append({"run": run_id, "step": step, "event": spec["event"],
                        "match": spec.get("match"), "if": spec.get("if"),
                        "expires": spec.get("expires"), "expected": expected(spec, trigger),
                        "answer": answer(spec, trigger)})
    out.sort(key=lambda w: w["expires"] or float("inf"))
    return out[:limit]


def _path(obj: Any, dotted: str) -> Any:
    for part in dotted.removeprefix("event.").removeprefix("async.").split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def register(rt: Bus, run_id: str, step_key: str, spec: dict[str, Any]) -> None:
    rt.redis.hset(keys.waits(spec["event"]), waiter_field(run_id, step_key), json.dumps(spec))


def resolve(
    rt: Bus, run_id: str, step_key: str, event_name: str, result: Any, *, wake: bool
) -> bool:
    """Store `result` as the step's result if this caller is first; optionally wake the run."""
    return rt.runs.resolve(keys.waits(event_name), waiter_field(run_id, step_key), run_id,
                           step_key, Done(result), wake=wake)


def lookback(rt: Bus, spec: dict[str, Any], since_ms: float) -> dict[str, Any] | None:
    """The first event since the run started that satisfies the wait, if any."""
    for candidate in recent_by_name(rt.redis, spec["event"], since_ms):
        if matches(spec, candidate):
            return candidate
    return None
