"""A plain cron expression is known valid without croniter (joelclaw.durations.crontab): what
is recognized so must be a subset of what croniter accepts, and anything else is croniter's."""

from __future__ import annotations

import random

import pytest
from croniter import croniter

from joelclaw.durations import crontab

# each item form with values from below to above every field's range
VALUES = ["-1", "00", "07", *map(str, range(0, 62)), "99", "100"]
ITEMS = ["*", "*/0", "*/1", "*/7", "*/59", "*/60", "*/99", "*/100", "*/05", "", "a", "1-", "-1",
         *VALUES, *(f"{a}-{b}" for a in ("0", "1", "5", "12", "23", "30", "59", "60")
                    for b in ("0", "1", "4", "6", "7", "12", "13", "23", "24", "31", "32", "59",
                              "60"))]


def agrees(expression: str) -> bool:
    """Known valid without croniter only where croniter says valid; `is_valid` is croniter's."""
    plain = crontab.plainly_valid(expression)
    verdict = bool(croniter.is_valid(expression))
    return (not plain or verdict) and crontab.is_valid(expression) == verdict


@pytest.mark.parametrize(("field", "fields"), [(f, 5) for f in range(5)] + [(5, 6)])
def test_every_item_in_every_field(field: int, fields: int) -> None:
    for item in ITEMS:
        parts = ["*"] * fields
        parts[field] = item
        assert agrees(" ".join(parts)), (field, item)
        parts[field] = f"{item},{item}"
        assert agrees(" ".join(parts)), (field, item)


def test_mixed_expressions() -> None:
    rng = random.Random(19)
    for _ in range(3000):
        parts = [",".join(rng.choice(ITEMS) for _ in range(rng.randint(1, 3)))
                 for _ in range(rng.choice((4, 5, 6, 7)))]
        assert agrees(" ".join(parts)), parts


@pytest.mark.parametrize("expression", [
    "*/15 * * * *", "30 3 * * *", "0 9 * * 1-5", "7 * * * *", "0 6 * * *", "*/30 * * * *",
    "0,30 8-18 1,15 1-12 0-6", "* * * * * */2", "0 0 * * * 30"])
def test_the_expressions_functions_and_settings_use_are_plain(expression: str) -> None:
    assert crontab.plainly_valid(expression) and croniter.is_valid(expression)


@pytest.mark.parametrize("expression", [
    "* * * * * * 2030", "0 9 * * MON-FRI", "0 0 L * *", "0 0 * * 5#3", "@hourly", "0  0 * * *",
    " 0 0 * * *", "0 0 * * 7", "*/100 * * * *"])
def test_anything_else_is_croniters_to_judge(expression: str) -> None:
    assert not crontab.plainly_valid(expression)
    assert crontab.is_valid(expression) == croniter.is_valid(expression)
