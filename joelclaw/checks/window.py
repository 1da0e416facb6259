"""Local-time windows of the checks: the email triage's hours, the digest's evening window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
    """`23:45-23:59`: inclusive local times, minutes precision; `23:50-00:10` wraps past
    midnight (as the email triage's hours do)."""
    start, end = _bounds(spec)
    now = (moment.hour, moment.minute)
    if start <= end:
        return start <= now <= end
    return now >= start or now <= end


def window_day(spec: str, moment: datetime) -> date:
    """The local day a window belongs to: the day it started, so the part of `23:50-00:10`
    after midnight is still the day before's (its digest is the day that just ended)."""
    start, end = _bounds(spec)
    if start > end and (moment.hour, moment.minute) <= end:
        return moment.date() - timedelta(days=1)
    return moment.date()


def _bounds(spec: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    first, _, last = spec.partition("-")
    return tuple(int(x) for x in first.split(":")), tuple(int(x) for x in last.split(":"))
