"""Forgetting through the API, behind the same bearer token as the other actions: `POST
/api/forget` previews (what would go, where) without `confirm` and forgets with it (`confirm`:
the number of findings the preview showed, so nothing beyond what was seen goes); `GET
/api/forgotten` is the audit, `GET /api/forgotten/<id>` one record of it."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from joelclaw.errors import NotFound
from joelclaw.forget import ForgetError, audit, execute, plan, record
from joelclaw.redaction import redact
from webhooks.api import MAX_LIMIT, BadQuery, blueprint
from webhooks.api_control import _body
from webhooks.app import runtime
from webhooks.http import fail

KINDS = ("event", "match", "person")
FIELDS = {*KINDS, "reason", "confirm"}
DEFAULT_REASON = "forgotten on request"


def selector(body: dict[str, Any]) -> tuple[str, str, str]:
    """(kind, value, reason) from a body naming exactly one of event, match, person."""
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise BadQuery(f"unknown field(s) {', '.join(unknown)}")
    given = [(k, body[k]) for k in KINDS if body.get(k) is not None]
    if len(given) != 1 or not isinstance(given[0][1], str) or not given[0][1].strip():
        raise BadQuery("give exactly one of event, match, person (a non-empty string)")
    reason = body.get("reason", DEFAULT_REASON)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 500:
        raise BadQuery("reason must be a non-empty string of at most 500 characters")
    return given[0][0], given[0][1], reason.strip()


@blueprint.post("/forget")
def forget() -> tuple[Response, int]:
    body = _body()
    kind, value, reason = selector(body)
    confirm = body.get("confirm")
    if confirm is not None and (isinstance(confirm, bool) or not isinstance(confirm, int)
                                or confirm < 0):
        raise BadQuery("confirm must be the number of findings the preview showed")
    try:
        found = plan(runtime(), kind=kind, value=value, reason=reason)  # type: ignore[arg-type]
    except ForgetError as exc:
        return fail(400, str(exc), exc.code)
    preview = found.as_dict(dry_run=True)
    if confirm is None or not found.findings:
        return jsonify({"ok": True, "preview": redact(preview)}), 200
    if confirm != len(found.findings):
        return fail(409, f"the preview showed {confirm} finding(s), there are now "
                    f"{len(found.findings)}: preview again", "FORGET_CHANGED",
                    preview=redact(preview))
    return jsonify({"ok": True, "forgotten": execute(runtime(), found, by="owner (api)")}), 200


@blueprint.get("/forgotten")
def forgotten() -> Response:
    return jsonify({"ok": True, "forgotten": audit(runtime(), MAX_LIMIT)})


@blueprint.get("/forgotten/<forget_id>")
def forgotten_one(forget_id: str) -> Response:
    found = record(runtime(), forget_id)
    if found is None:
        raise NotFound(f"no forgetting {forget_id!r} in the audit")
    return jsonify({"ok": True, "forgotten": found})
