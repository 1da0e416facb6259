"""`cancel_on`: a listener per run in the wait registry (`jc:waits:<event>`), so the dispatch
script that already returns the waiters of each event name returns cancel listeners too, with
no extra round trip. Whoever deletes the listener field first cancels the run, exactly once.
"""

from __future__ import annotations

import json
import logging
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.control.actions import cancel_run
from joelclaw.bus.flow import waits
from joelclaw.errors import JoelclawError

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.flow")
FOREVER = 10 * 365 * 86400.0


def register(rt: Bus, runs: list[tuple[Function, str]], event: dict[str, Any],
             received_at: float) -> None:
    """Listeners for new runs of functions that declare cancel_on (one pipeline).

    Then a look-back over events received since the triggering one: a cancelling event that
    arrived between the run's creation and its listener's registration still cancels it.
    """
    pipe = rt.redis.pipeline(transaction=False)
    now = time.time()
    listeners: list[tuple[str, dict[str, Any]]] = []
    for fn, run_id in runs:
        for index, cancel in enumerate(fn.flow.cancel_on if fn.flow else ()):
            spec = {"kind": "cancel", "event": cancel.event, "match": cancel.match,
                    "if": cancel.if_, "trigger": event, "run": run_id,
                    "expires": now + (cancel.timeout or FOREVER)}
            field = f"{run_id}|cancel:{index}"
            pipe.hset(keys.waits(cancel.event), field, json.dumps(spec))
            listeners.append((field, spec))
    pipe.execute()
    for field, spec in listeners:
        early = waits.lookback(rt, spec, int(received_at * 1000))
        if early is not None:
            fire(rt, field, spec, early)


def fire(rt: Bus, field: str, spec: dict[str, Any], event: dict[str, Any]) -> bool:
    """Claim the listener and cancel its run; False if someone else claimed it first."""
    if not rt.redis.hdel(keys.waits(spec["event"]), field):
        return False
    try:
        cancel_run(rt, spec["run"], f"cancel_on: {event['name']} {event.get('id')}")
    except JoelclawError:
        log.warning("cancel_on could not cancel %s", spec["run"], exc_info=True)
    return True
