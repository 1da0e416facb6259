"""Times and durations for people: two largest units, local time with its zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from joelclaw.durations import humane


@pytest.mark.parametrize("seconds, text", [
    (0.42, "420 ms"), (4.24, "4.2 s"), (42.4, "42 s"), (185, "3 m 05 s"),
    (7095.9, "1 h 58 m"), (86400 + 3 * 3600, "1 d 03 h"),
])
def test_durations_use_the_two_largest_units(seconds: float, text: str) -> None:
    assert humane.duration(seconds) == text


def test_relative_moments_say_which_way() -> None:
    assert humane.relative(1000 + 7095.9, now=1000) == "in 1 h 58 m"
    assert humane.relative(1000 - 190, now=1000) == "3 m 10 s ago"
    assert humane.relative(1000.2, now=1000) == "now"


def test_local_time_carries_its_zone() -> None:
    at = datetime(2026, 1, 2, 13, 5, 9, tzinfo=ZoneInfo("UTC")).timestamp()
    assert humane.stamp(at, "Europe/Paris") == "2026-01-02 14:05:09 CET"
    assert humane.clock(at, "America/Los_Angeles", now=at) == "05:05:09 PST"
    assert humane.clock(at, "UTC", now=at + 86400) == "Fri 2 Jan 13:05 UTC"
    assert humane.clock(at, "UTC", now=at + 400 * 86400) == "Fri 2 Jan 2026 13:05 UTC"
    assert humane.moment(at + 60, "UTC", now=at) == "13:06:09 UTC (in 1 m 00 s)"
    assert humane.moment(None) == "an unknown time"
