"""JSON as RFC 8259 defines it, for everything that enters from outside (webhooks, the API,
`joelclaw send -d`).

Python's `json` accepts `NaN`, `Infinity` and `-Infinity`, and turns `1e400` into infinity. None
of them is JSON: an event carrying one is stored fine and then makes every view of it
(`GET /api/events`, `joelclaw events`) print invalid JSON. They are refused at the door instead.
"""

from __future__ import annotations

import json
import math
from typing import Any

from joelclaw.errors import JoelclawError


class NonStandardJSON(JoelclawError, ValueError):
    """Valid for Python's parser, not JSON: NaN, Infinity, or a number beyond a double."""


def _constant(name: str) -> Any:
    raise NonStandardJSON(f"{name} is not JSON (send null or a string instead)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonStandardJSON(f"the number {text[:40]} is out of range for JSON")
    return value


def loads(data: str | bytes | bytearray) -> Any:
    """`json.loads`, refusing what is not standard JSON (a ValueError, like any bad JSON)."""
    return json.loads(data, parse_constant=_constant, parse_float=_float)
