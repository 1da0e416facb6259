"""Bulk actions in the dashboard: filter → preview (how many, which) → confirm → progress.

The runs page links to the preview with its filters; confirming creates a job for at most the
count the owner saw (joelclaw.bus.control.bulk) and executes it in the background of this web
process, and the job's page shows its progress live. A job whose process died shows as interrupted,
with a button to go on from where it stopped.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from werkzeug.exceptions import BadRequest, Conflict

from joelclaw.bus.control import bulk
from joelclaw.errors import NotFound
from webhooks.dashboard import params
from webhooks.dashboard.blueprint import blueprint, rt
from webhooks.dashboard.pages import page


def _selection_from(values: Any) -> bulk.Selection:
    """The filter from the query (preview) or the form (confirm)."""
    statuses = [s for v in values.getlist("status") for s in v.split(",") if s]
    limit = values.get("limit") or "100"
    if not limit.isdigit():
        raise BadRequest(f"limit must be a whole number from 1 to {bulk.MAX_RUNS}")
    return bulk.Selection(function=values.get("function") or None, statuses=statuses,
                          since=params.moment("since") if values is request.args
                          else _float(values.get("since")),
                          until=params.moment("until") if values is request.args
                          else _float(values.get("until")),
                          event=values.get("event") or None, limit=int(limit))


def _float(raw: str | None) -> float | None:
    try:
        return float(raw) if raw else None
    except ValueError:
        raise BadRequest("since and until must be unix seconds") from None


def _action(values: Any) -> str:
    action = values.get("action", "")
    if action not in bulk.ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(bulk.ACTIONS)}")
    return action


@page("/runs/bulk", "bulk_preview")
def bulk_preview() -> dict[str, Any]:
    """How many runs the action would touch: nothing changes until the owner confirms."""
    action = _action(request.args)
    selection = _selection_from(request.args)
    try:
        return {"preview": bulk.preview(rt(), action, selection), "error": None}
    except bulk.BulkError as exc:
        raise Conflict(str(exc)) from None


@blueprint.post("/runs/bulk")
def bulk_confirm() -> Any:
    action = _action(request.form)
    selection = _selection_from(request.form)
    expect = request.form.get("expect", "")
    if not expect.isdigit():
        raise BadRequest("expect (the previewed count) is required")
    try:
        job = bulk.create(rt(), action, selection, expect=int(expect), by="owner (dashboard)")
    except bulk.BulkError as exc:
        raise Conflict(str(exc)) from None
    bulk.execute_in_background(rt(), job["id"])
    return redirect(url_for("dashboard.bulk_job", job_id=job["id"]), 303)


@page("/bulk/<job_id>", "bulk_job", fragment="_bulk_live.html")
def bulk_job(job_id: str) -> dict[str, Any]:
    job = bulk.get(rt(), job_id)
    if job is None:
        raise NotFound(f"no bulk job {job_id!r} (jobs are kept 7 days)")
    return {"job": job}


@blueprint.post("/bulk/<job_id>/resume")
def bulk_resume(job_id: str) -> Any:
    job = bulk.get(rt(), job_id, results=False)
    if job is None:
        raise NotFound(f"no bulk job {job_id!r} (jobs are kept 7 days)")
    if job["status"] != "interrupted":
        raise Conflict(f"bulk job {job_id} is {job['status']}, not interrupted")
    bulk.execute_in_background(rt(), job_id)
    return redirect(url_for("dashboard.bulk_job", job_id=job_id), 303)
