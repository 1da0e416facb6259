"""Template filters: times in the configured zone with their age, durations, pretty JSON.

Every filter returns plain text, so Jinja's autoescaping applies to what they produce: nothing
in a page is marked safe, and event data (hostile input) is always escaped.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Undefined

from joelclaw.insight import present
from webhooks.dashboard.blueprint import blueprint, rt


def _missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


@blueprint.app_template_filter("when")
def when(epoch: float | None) -> str:
    if _missing(epoch):
        return "-"
    zone = ZoneInfo(rt().settings.timezone)
    return datetime.fromtimestamp(float(epoch), zone).strftime("%Y-%m-%d %H:%M:%S")


@blueprint.app_template_filter("iso")
def iso(epoch: float | None) -> str:
    if _missing(epoch):
        return ""
    return datetime.fromtimestamp(float(epoch), ZoneInfo(rt().settings.timezone)).isoformat(
        timespec="milliseconds")


@blueprint.app_template_filter("age")
def age(epoch: float | None) -> str:
    if _missing(epoch):
        return "-"
    delta = time.time() - float(epoch)
    text = seconds(abs(delta))
    return f"{text} ago" if delta >= 0 else f"in {text}"


@blueprint.app_template_filter("seconds")
def seconds(value: float | None) -> str:
    if _missing(value):
        return "-"
    s = float(value)
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        return f"{s // 60:.0f}m {s % 60:02.0f}s"
    if s < 86400:
        return f"{s // 3600:.0f}h {s % 3600 // 60:02.0f}m"
    return f"{s // 86400:.0f}d {s % 86400 // 3600:02.0f}h"


@blueprint.app_template_filter("ms")
def ms(value: float | None) -> str:
    return "-" if _missing(value) else seconds(float(value) / 1000)


@blueprint.app_template_filter("pretty")
def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


@blueprint.app_template_filter("compact")
def compact(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


@blueprint.app_template_filter("pct")
def pct(value: float | None) -> str:
    return "-" if _missing(value) else f"{value * 100:.1f}%"


@blueprint.app_template_filter("known")
def known(value: Any) -> str:
    """What nobody can know says so ("unknown"), rather than 0 or a dash."""
    return present.known(None if isinstance(value, Undefined) else value)


@blueprint.app_template_filter("outcome")
def outcome(execution: dict[str, Any]) -> str:
    return present.outcome(execution)
