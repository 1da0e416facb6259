"""Cron, as data. Functions declare their own cron triggers (`triggers=[cron("*/15 * * * *")]`)
and become beat entries automatically; list here any extra Celery beat entries (plain tasks).

Each entry needs a time zone: function crons take theirs from the trigger (`TZ=...` prefix or
`timezone=`), and extra entries below must use `joelclaw.bus.celery.CronSchedule(expr, tz)`.
"""

from __future__ import annotations

from typing import Any


def extra_entries(runtime: Any) -> dict[str, dict[str, Any]]:
    """Extra beat entries by name; none are needed by the built-in functions."""
    return {}
