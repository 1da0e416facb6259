"""`check/trigger-audit` (reference #20): this system's own triggers against what it expects.
The old one compared Inngest's registered triggers with the code; here the registry *is* the
code, so the audit checks what can drift at run time:

- every event the heartbeat fans out has a function (a module missing from the entry points
  leaves an event nobody handles);
- every cron trigger's latest slot was dispatched: beat records each tick as the event
  `cron-<function>-<slot>`, so a missing one is a tick beat never sent. Slots before the first
  audit that saw beat alive (a fresh system, beat restarted) or within a grace period are not
  judged, nor anything while beat itself is down (the health check reports that).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from joelclaw import health, keys
from joelclaw.events.model import Event

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

GRACE_SECONDS = 120.0  # beat ticks every 30 s; a slot is judged two minutes after it


def audit(rt: Bus, expected_events: list[str], now: float | None = None) -> dict[str, Any]:
    """`{unhandled: [event], missed: [{function, cron, slot}], crons, beat_ok}`."""
    from joelclaw.bus.celery import CronSchedule  # beat's schedule: Celery, only when run

    now = time.time() if now is None else now
    unhandled = [name for name in expected_events
                 if not rt.registry.triggered_by(Event(name=name, data={}))]
    beat_ok = bool(health.beat_status(rt, now)["ok"])
    if beat_ok:
        rt.redis.set(keys.TRIGGERS_AUDIT_SINCE, f"{now:.3f}", nx=True)
    else:  # judged again from the first audit that sees beat back (ticks it missed while
        rt.redis.delete(keys.TRIGGERS_AUDIT_SINCE)  # down are the health check's news)
    since = float(rt.redis.get(keys.TRIGGERS_AUDIT_SINCE) or now)
    missed, crons = [], 0
    moment = datetime.fromtimestamp(now - GRACE_SECONDS, UTC)
    for fn in rt.registry:
        for trig in fn.crons:
            crons += 1
            slot = CronSchedule(trig.cron or "", trig.timezone).slot_at(moment)
            if not beat_ok or slot.timestamp() < since + GRACE_SECONDS:
                continue
            stamp = slot.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
            if not rt.redis.exists(keys.event(f"cron-{fn.id}-{stamp}")):
                missed.append({"function": fn.id, "cron": trig.describe(),
                               "slot": slot.isoformat()})
    return {"unhandled": unhandled, "missed": missed, "crons": crons, "beat_ok": beat_ok,
            "judged_since": datetime.fromtimestamp(since, UTC).isoformat()}


def drifted(result: dict[str, Any]) -> bool:
    return bool(result["unhandled"] or result["missed"])


def describe(result: dict[str, Any]) -> str:
    lines = ["🧭 **Trigger drift**", ""]
    lines += [f"- `{name}` has no function (is its module in the entry points?)"
              for name in result["unhandled"]]
    lines += [f"- {m['function']} ({m['cron']}) missed its {m['slot']} tick"
              for m in result["missed"][:10]]
    return "\n".join(lines)


__all__ = ["GRACE_SECONDS", "audit", "describe", "drifted"]
