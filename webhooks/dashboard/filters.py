"""Template filters: times for people (local time in the configured zone with its name, and
"in 1 h 58 m"), durations, pretty JSON, Markdown.

Every filter but `markdown` returns plain text, so Jinja's autoescaping applies to what they
produce; `markdown` escapes its input first and marks up only what it recognises (see
webhooks/dashboard/markdown.py). Event data (hostile input) is always escaped.
"""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Undefined
from markupsafe import Markup

from joelclaw.durations import humane
from joelclaw.insight import present
from webhooks.dashboard import markdown as md
from webhooks.dashboard.blueprint import blueprint, rt


def _missing(value: Any) -> bool:
    """Filters get what the template has: a number, None, or Jinja's Undefined."""
    return value is None or isinstance(value, Undefined)


def _zone() -> str:
    return rt().settings.timezone


@blueprint.app_template_filter("when")
def when(epoch: Any) -> str:
    """`2026-01-02 14:05:09 CET`."""
    return "-" if _missing(epoch) else humane.stamp(float(epoch), _zone())


@blueprint.app_template_filter("clock")
def clock(epoch: Any) -> str:
    """`14:05:09 CET` today, `Fri 2 Jan 14:05 CET` another day."""
    return "-" if _missing(epoch) else humane.clock(float(epoch), _zone())


@blueprint.app_template_filter("iso")
def iso(epoch: Any) -> str:
    if _missing(epoch):
        return ""
    return humane.local(float(epoch), _zone()).isoformat(timespec="milliseconds")


@blueprint.app_template_filter("age")
def age(epoch: Any) -> str:
    """`3 m 10 s ago`, `in 1 h 58 m`."""
    return "-" if _missing(epoch) else humane.relative(float(epoch))


@blueprint.app_template_filter("seconds")
def seconds(value: Any) -> str:
    return "-" if _missing(value) else humane.duration(float(value))


@blueprint.app_template_filter("ms")
def ms(value: Any) -> str:
    return "-" if _missing(value) else humane.duration(float(value) / 1000)


@blueprint.app_template_filter("pretty")
def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


@blueprint.app_template_filter("compact")
def compact(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


@blueprint.app_template_filter("pct")
def pct(value: Any) -> str:
    return "-" if _missing(value) else f"{value * 100:.1f}%"


@blueprint.app_template_filter("usd")
def usd(value: Any) -> str:
    if _missing(value):
        return "-"
    return f"${value:.4f}" if value < 0.01 else f"${value:.2f}"


@blueprint.app_template_filter("markdown")
def markdown(text: str | None) -> Markup:
    return md.render(text or "")


@blueprint.app_template_filter("known")
def known(value: Any) -> str:
    """What nobody can know says so ("unknown"), rather than 0 or a dash."""
    return present.known(None if isinstance(value, Undefined) else value)


@blueprint.app_template_filter("outcome")
def outcome(execution: dict[str, Any]) -> str:
    return present.outcome(execution)
