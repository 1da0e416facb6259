"""Query parameters of the dashboard pages: bad values are a 400 with the reason, never a 500."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime

from flask import request
from werkzeug.exceptions import BadRequest

from joelclaw.bus.records import STATUSES
from joelclaw.insight.runs import Cursor

MAX_TEXT = 256
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d|w)$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def text(name: str, maximum: int = MAX_TEXT) -> str | None:
    value = request.args.get(name, "").strip()
    if len(value) > maximum:
        raise BadRequest(f"{name} is longer than {maximum} characters")
    return value or None


def limit(default: int = 50, maximum: int = 200) -> int:
    raw = request.args.get("limit")
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise BadRequest(f"limit must be a whole number from 1 to {maximum}")
    return int(raw)


def moment(name: str) -> float | None:
    """`15m`/`2h`/`7d` ago, unix seconds, or ISO 8601 (naive = UTC)."""
    raw = text(name)
    if raw is None:
        return None
    match = DURATION.match(raw)
    if match:
        return time.time() - float(match.group(1)) * UNITS[match.group(2)]
    try:
        value = float(raw)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise BadRequest(f"{name} must be like 15m, 2h, 7d, unix seconds or ISO 8601; "
                             f"got {raw[:40]!r}") from None
        value = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if not math.isfinite(value) or not 0 <= value < 1e11:
        raise BadRequest(f"{name} is out of range")
    return value


def statuses() -> list[str] | None:
    values = [s for v in request.args.getlist("status") for s in v.split(",") if s]
    unknown = sorted(set(values) - set(STATUSES))
    if unknown:
        raise BadRequest(f"unknown status {', '.join(unknown)}; one of {', '.join(STATUSES)}")
    return values or None


def cursor() -> Cursor | None:
    raw = text("cursor")
    if raw is None:
        return None
    try:
        return Cursor.decode(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
