"""Durations and moments for people: "in 1 h 58 m", "14:05:09 CET", never "7095.9s".

One set of words for the dashboard, the CLI and `explain`, so a time reads the same wherever
the owner meets it: local wall-clock time in the configured zone with its abbreviation, and
the distance from now in the two largest units.
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=16)
def _zone(name: str | None) -> ZoneInfo | None:
    return ZoneInfo(name) if name else None


def duration(seconds: float) -> str:
    """420 ms, 4.2 s, 42 s, 3 m 05 s, 1 h 58 m, 2 d 03 h."""
    s = abs(float(seconds))
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    whole = int(s)
    if whole < 3600:
        return f"{whole // 60} m {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} m"
    return f"{whole // 86400} d {whole % 86400 // 3600:02d} h"


def relative(at: float, now: float | None = None) -> str:
    """`in 1 h 58 m`, `3 m 10 s ago`, or `now`."""
    delta = float(at) - (time.time() if now is None else now)
    if abs(delta) < 0.5:
        return "now"
    text = duration(delta)
    return f"in {text}" if delta > 0 else f"{text} ago"


def local(at: float, zone: str | None = None) -> datetime:
    """The moment in `zone` (an IANA name), else in this machine's zone."""
    tz = _zone(zone)
    moment = datetime.fromtimestamp(float(at), tz)
    return moment if tz is not None else moment.astimezone()


def stamp(at: float, zone: str | None = None) -> str:
    """`2026-01-02 14:05:09 CET`: the full local time with its zone."""
    return local(at, zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def clock(at: float, zone: str | None = None, now: float | None = None) -> str:
    """Short local time: `14:05:09 CET` today, `Fri 2 Jan 14:05 CET` another day (with the
    year when it is another year)."""
    moment = local(at, zone)
    today = local(time.time() if now is None else now, zone)
    if moment.date() == today.date():
        return moment.strftime("%H:%M:%S %Z")
    if moment.year == today.year:
        return f"{moment:%a} {moment.day} {moment:%b %H:%M %Z}"
    return f"{moment:%a} {moment.day} {moment:%b %Y %H:%M %Z}"


def moment(at: float | None, zone: str | None = None, now: float | None = None) -> str:
    """`14:05:09 CET (in 1 h 58 m)`; `an unknown time` for None."""
    if at is None:
        return "an unknown time"
    return f"{clock(at, zone, now)} ({relative(at, now)})"
