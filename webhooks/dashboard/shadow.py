"""Shadow reports in the dashboard: the recent ones, and one report's runs with the steps and
outputs that differ and their diffs. `joelclaw shadow` makes them; the pages only read."""

from __future__ import annotations

from typing import Any

from joelclaw.errors import NotFound
from joelclaw.redaction import redact
from joelclaw.shadow import ReportStore
from webhooks.dashboard.blueprint import rt
from webhooks.dashboard.pages import page


@page("/shadow", "shadow")
def reports() -> dict[str, Any]:
    return {"reports": redact([r.summary() for r in ReportStore(rt().redis).recent()])}


@page("/shadow/<report_id>", "shadow_report")
def report(report_id: str) -> dict[str, Any]:
    found = ReportStore(rt().redis).get(report_id)
    if found is None:
        raise NotFound(f"no shadow report {report_id!r} (reports are kept 7 days)")
    return {"report": redact(found.view())}
