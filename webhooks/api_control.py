"""The API's control of functions and runs beyond one run: pause and resume a function, wake a
sleeping run, and bulk cancel/replay (preview → confirm → progress), on the `/api` blueprint
(same bearer token). Bad bodies are 400, unknown ids 404, what cannot apply now 409."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from joelclaw.bus.control import bulk, pause, resume, wake_run
from joelclaw.errors import JoelclawError, NotFound
from joelclaw.events import strictjson
from webhooks.api import MAX_BODY_BYTES, BadQuery, blueprint
from webhooks.app import runtime
from webhooks.http import fail, read_body

FILTER_KEYS = {"function", "statuses", "since", "until", "event", "limit"}


def _body() -> dict[str, Any]:
    raw = read_body(MAX_BODY_BYTES, runtime().settings.web.body_timeout_seconds)
    if not raw.strip():
        return {}
    try:
        body = strictjson.loads(raw)
    except (ValueError, RecursionError):
        raise BadQuery("body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadQuery("body must be a JSON object")
    return body


@blueprint.post("/functions/<function_id>/pause")
def pause_function(function_id: str) -> Response:
    reason = _body().get("reason")
    if reason is not None and not isinstance(reason, str):
        raise BadQuery("reason must be a string")
    return jsonify({"ok": True, "pause": pause(runtime(), function_id, by="owner (api)",
                                               reason=reason)})


@blueprint.post("/functions/<function_id>/resume")
def resume_function(function_id: str) -> Response:
    return jsonify({"ok": True, "resume": resume(runtime(), function_id)})


@blueprint.post("/runs/<run_id>/wake")
def wake(run_id: str) -> tuple[Response, int]:
    try:
        woken = wake_run(runtime(), run_id, by="owner (api)")
    except NotFound:
        raise
    except JoelclawError as exc:
        return fail(409, str(exc), exc.code)
    return jsonify({"ok": True, "woken": woken}), 200


def _selection(raw: Any) -> bulk.Selection:
    if not isinstance(raw, dict):
        raise BadQuery("filter must be an object: function, statuses, since, until, event, "
                       "limit")
    unknown = sorted(set(raw) - FILTER_KEYS)
    if unknown:
        raise BadQuery(f"unknown filter field(s) {', '.join(unknown)}")
    for name in ("function", "event"):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise BadQuery(f"{name} must be a string")
    for name in ("since", "until"):
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not 0 <= value < 1e11):
            raise BadQuery(f"{name} must be unix seconds")
    statuses = raw.get("statuses") or []
    if not isinstance(statuses, list) or not all(isinstance(s, str) for s in statuses):
        raise BadQuery("statuses must be a list of run statuses")
    limit = raw.get("limit", 100)
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise BadQuery(f"limit must be a whole number from 1 to {bulk.MAX_RUNS}")
    return bulk.Selection(function=raw.get("function"), statuses=statuses,
                          since=raw.get("since"), until=raw.get("until"),
                          event=raw.get("event"), limit=limit)


@blueprint.post("/runs/bulk")
def bulk_runs() -> tuple[Response, int]:
    """Without `confirm`: the preview (count and sample). With `confirm` (the previewed count):
    the job, executed before answering, or in the background with `"wait": false` (202; its
    progress at GET /api/runs/bulk/<job>)."""
    body = _body()
    action = body.get("action")
    if not isinstance(action, str):
        raise BadQuery(f"action must be one of {', '.join(bulk.ACTIONS)}")
    selection = _selection(body.get("filter", {}))
    confirm, wait = body.get("confirm"), body.get("wait", True)
    if not isinstance(wait, bool):
        raise BadQuery("wait must be true or false")
    try:
        if confirm is None:
            return jsonify({"ok": True, "preview": bulk.preview(runtime(), action,
                                                                selection)}), 200
        if isinstance(confirm, bool) or not isinstance(confirm, int) or confirm < 0:
            raise BadQuery("confirm must be the previewed count")
        job = bulk.create(runtime(), action, selection, expect=confirm, by="owner (api)")
    except bulk.BulkChanged as exc:
        return fail(409, str(exc), exc.code)
    except bulk.BulkError as exc:
        return fail(400, str(exc), exc.code)
    if not wait:
        bulk.execute_in_background(runtime(), job["id"])
        return jsonify({"ok": True, "job": job}), 202
    return jsonify({"ok": True, "job": bulk.execute(runtime(), job["id"])}), 200


@blueprint.get("/runs/bulk/<job_id>")
def bulk_job(job_id: str) -> Response:
    job = bulk.get(runtime(), job_id)
    if job is None:
        raise NotFound(f"no bulk job {job_id!r} (jobs are kept 7 days)")
    return jsonify({"ok": True, "job": job})


@blueprint.post("/runs/bulk/<job_id>/resume")
def bulk_resume(job_id: str) -> tuple[Response, int]:
    job = bulk.get(runtime(), job_id, results=False)
    if job is None:
        raise NotFound(f"no bulk job {job_id!r} (jobs are kept 7 days)")
    if job["status"] != "interrupted":
        return fail(409, f"bulk job {job_id} is {job['status']}, not interrupted",
                    "BULK_NOT_INTERRUPTED")
    try:
        return jsonify({"ok": True, "job": bulk.execute(runtime(), job_id)}), 200
    except bulk.BulkError as exc:
        return fail(409, str(exc), exc.code)
