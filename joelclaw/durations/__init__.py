"""Durations as people write them: 30, "30s", "5m", "2h", "7d", "1w", or a timedelta.

One parser for step sleeps and timeouts, flow-control periods and the CLI's `--since`. Beside
it, durations said to people (`humane`) and waited between retries (`backoff`).
"""

from __future__ import annotations

import re
from datetime import timedelta

from joelclaw.errors import FunctionDefinitionError

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)
UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}

Duration = float | int | str | timedelta


def seconds(duration: Duration) -> float:
    """The duration in seconds; FunctionDefinitionError names the bad value."""
    if isinstance(duration, timedelta):
        return duration.total_seconds()
    if isinstance(duration, bool):
        raise FunctionDefinitionError(f"invalid duration {duration!r}: use e.g. 30, '30s', '5m'")
    if isinstance(duration, int | float):
        return float(duration)
    match = DURATION_RE.match(duration) if isinstance(duration, str) else None
    if not match:
        raise FunctionDefinitionError(f"invalid duration {duration!r}: use e.g. 30, '30s', '5m'")
    unit = match.group(2).lower() if match.group(2) else None
    return float(match.group(1)) * UNITS[unit]
