"""Local-time windows of the checks: the email triage's hours, the digest's evening window."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def local_now(tz: str, now: float | None = None) -> datetime:
    zone = ZoneInfo(tz)
    return datetime.now(zone) if now is None else datetime.fromtimestamp(now, zone)


def in_hours(spec: str, moment: datetime) -> bool:
    """`08-22`: from 08:00 up to (not including) 22:00; `22-06` wraps past midnight."""
    first, _, last = spec.partition("-")
    start, end = int(first), int(last)
    hour = moment.hour
    if start == end:
        return True
    if start < end:
        return start <= hour < end
    return hour >= start or hour < end


def in_window(spec: str, moment: datetime) -> bool:
    """`23:45-23:59`: inclusive local times, minutes precision."""
    first, _, last = spec.partition("-")
    start = tuple(int(x) for x in first.split(":"))
    end = tuple(int(x) for x in last.split(":"))
    return start <= (moment.hour, moment.minute) <= end
