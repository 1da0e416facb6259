"""Crons with each catch-up policy, every five minutes: loaded only by tests/test_catchup.py
(a real five-minute boundary must not add runs to other tests)."""

from __future__ import annotations

from typing import Any

from joelclaw import Context, cron, function
from joelclaw.events.payloads.system import CronTick


def _seen(ctx: Context[CronTick]) -> dict[str, Any]:
    data = ctx.event.data
    return {"slot": data.slot,
            "catch_up": data.catch_up.model_dump() if data.catch_up else None}


@function("t-catchup-latest", triggers=[cron("*/5 * * * *", catch_up="latest")])
def catchup_latest(ctx: Context[CronTick]) -> dict[str, Any]:
    """One run for the newest missed fire."""
    return _seen(ctx)


@function("t-catchup-skip", triggers=[cron("*/5 * * * *", catch_up="skip")])
def catchup_skip(ctx: Context[CronTick]) -> dict[str, Any]:
    """Missed fires are dropped."""
    return _seen(ctx)


@function("t-catchup-all", triggers=[cron("*/5 * * * *", catch_up="all", cap=2)])
def catchup_all(ctx: Context[CronTick]) -> dict[str, Any]:
    """Each missed fire runs, the newest two at most."""
    return _seen(ctx)
