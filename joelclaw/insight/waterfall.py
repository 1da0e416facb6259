"""A run's steps on one time axis, Inngest-waterfall style, as plain data a page can draw.

Each row is a step (parallel members indented under their step) made of segments placed in
percent of the run's span: `queue` (the message waited for a worker), `retry` (earlier attempts
and their back-off), `exec` (the last attempt running), `sleep` and `wait` (durable, holding no
worker; their deadline is marked), plus a first row for the run itself: its flow-control holds
and its queue delay before the first step.
"""

from __future__ import annotations

import time
from typing import Any


def waterfall(trace: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    now = time.time() if now is None else now
    origin = float(trace["created_at"])
    active = trace.get("ended_at") is None
    steps = trace.get("steps") or []
    held_until = (trace.get("held") or {}).get("until") if active else None
    end = max([origin + 0.001, trace.get("ended_at") or 0.0, now if active else 0.0,
               held_until or 0.0, *(_step_extent(s, now) for s in steps)])
    axis = _Axis(origin, end)
    rows = [_run_row(trace, axis, now)]
    members: dict[str, list[dict[str, Any]]] = {}
    for step in steps:
        parent = _member_of(step)
        if parent is not None:
            members.setdefault(parent, []).append(step)
    for step in steps:
        if _member_of(step) is not None:
            continue
        rows.append(_step_row(step, axis, now, depth=0, active=active))
        for member in sorted(members.pop(step["key"], []), key=_member_index):
            rows.append(_step_row(member, axis, now, depth=1, active=active))
    for orphans in members.values():  # members whose parent record is not written yet
        rows.extend(_step_row(m, axis, now, depth=1, active=active) for m in orphans)
    return {"origin": origin, "end": end, "span_ms": round((end - origin) * 1000, 1),
            "active": active, "ticks": axis.ticks(), "rows": rows}


class _Axis:
    def __init__(self, origin: float, end: float):
        self.origin, self.span = origin, max(end - origin, 0.001)

    def pct(self, moment: float) -> float:
        return round(min(100.0, max(0.0, (moment - self.origin) / self.span * 100)), 3)

    def segment(self, kind: str, start: float | None, stop: float | None,
                **extra: Any) -> dict[str, Any] | None:
        if start is None or stop is None or stop < start:
            return None
        left = self.pct(start)
        width = max(self.pct(stop) - left, 0.4)  # always visible, even for 1 ms
        return {"kind": kind, "start": start, "end": stop, "left": left,
                "width": round(min(width, 100.0 - left if left < 100 else 0.4), 3),
                "ms": round((stop - start) * 1000, 1), **extra}

    def ticks(self, count: int = 5) -> list[dict[str, Any]]:
        return [{"left": round(100 * i / count, 3), "offset_ms": round(self.span * 1000 * i
                                                                       / count, 1)}
                for i in range(count + 1)]


def _member_index(step: dict[str, Any]) -> int:
    digits = str(step.get("key", "")).rsplit("[", 1)[-1].rstrip("]")
    return int(digits) if digits.isdigit() else 0


def _member_of(step: dict[str, Any]) -> str | None:
    key = str(step.get("key", ""))
    if step.get("type") == "parallel.member" and key.endswith("]") and "[" in key:
        return key.rsplit("[", 1)[0]
    return None


def _step_extent(step: dict[str, Any], now: float) -> float:
    ends = [step.get("ended_at"), step.get("started_at")]
    if step.get("status") in ("running", "sleeping", "waiting", "retrying"):
        ends.append(now)
    deadline = _deadline(step)
    if deadline is not None and step.get("status") in ("sleeping", "waiting"):
        ends.append(deadline)
    if step.get("status") == "retrying":
        ends.append(step.get("next_attempt_at"))
    return max(float(e) for e in ends if e is not None) if any(e is not None for e in ends) \
        else 0.0


def _deadline(step: dict[str, Any]) -> float | None:
    if step.get("until") is not None:
        return float(step["until"])
    wait = step.get("wait") or {}
    return float(wait["expires"]) if wait.get("expires") is not None else None


def _run_row(trace: dict[str, Any], axis: _Axis, now: float) -> dict[str, Any]:
    """Queue delay before the first step, with the flow-control holds drawn over it."""
    created, started = float(trace["created_at"]), trace.get("started_at")
    active = trace.get("ended_at") is None
    queue_end = started if started is not None else (now if active else trace["ended_at"])
    segments = [axis.segment("queue", created, queue_end, label="waiting to start")]
    current = trace.get("held")
    for hold in [*(trace.get("holds") or []), *([current] if current else [])]:
        live = hold is current
        stop = hold.get("released_at") or (hold.get("until") if live else None) or now
        segments.append(axis.segment("hold", hold.get("since"), stop, label=_hold_label(hold)))
    until = (current or {}).get("until") if active else None
    return {"key": None, "label": "run", "type": "run", "status": trace.get("status"),
            "depth": 0, "segments": [s for s in segments if s],
            "deadline": None if until is None else {"at": until, "left": axis.pct(until)}}


def _hold_label(hold: dict[str, Any]) -> str:
    kind = hold.get("kind", "limit")
    key = f" key {hold['key']}" if hold.get("key") else ""
    if kind == "throttle":
        return f"held by throttle {hold.get('limit')} per {hold.get('period')}s{key}"
    return f"held by {kind} limit {hold.get('limit')}{key}"


def _step_row(step: dict[str, Any], axis: _Axis, now: float, depth: int,
              active: bool = True) -> dict[str, Any]:
    status, kind = step.get("status"), step.get("type", "run")
    started = step.get("started_at")
    attempt_start = step.get("attempt_started_at") or started
    ended = step.get("ended_at")
    live_end = ended if ended is not None else now
    segments: list[dict[str, Any] | None] = []
    # A deadline matters only while the step still waits for it (a matched wait, a cancelled
    # sleep: no deadline drawn).
    deadline = _deadline(step) if active and status in ("sleeping", "waiting") else None
    if kind == "sleep":
        segments.append(axis.segment("sleep", started, live_end))
    elif kind == "wait" or (kind in ("invoke", "parallel") and status == "waiting"):
        segments.append(axis.segment("wait", started, live_end))
    else:
        delay = (step.get("queue_delay_ms") or 0) / 1000
        if attempt_start is not None and delay > 0:
            segments.append(axis.segment("queue", attempt_start - delay, attempt_start))
        if started is not None and attempt_start is not None and attempt_start > started:
            segments.append(axis.segment("retry", started, attempt_start,
                                         label=f"{int(step.get('attempts', 1)) - 1} earlier "
                                               "attempt(s) and back-off"))
        if status == "retrying":
            segments.append(axis.segment("exec", attempt_start, ended, failed=True))
            segments.append(axis.segment("retry", ended, step.get("next_attempt_at"),
                                         label="back-off before the next attempt"))
        else:
            segments.append(axis.segment("exec", attempt_start, live_end,
                                         failed=status == "failed"))
    return {"key": step.get("key"), "label": step.get("key"), "type": kind, "status": status,
            "depth": depth, "attempts": step.get("attempts", 0), "tries": step.get("tries"),
            "segments": [s for s in segments if s],
            "deadline": None if deadline is None else {"at": deadline, "left": axis.pct(deadline)}}
