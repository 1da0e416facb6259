"""The dashboard's JSON twins in the OpenAPI document: each page's data under /api/dashboard/.

They answer without a token on loopback and need the bearer token (or the login cookie)
anywhere else, like the pages (see security.py); the payloads are described loosely, as the
page models they are."""

from __future__ import annotations

from typing import Any

from joelclaw.bus.records import STATUSES

ERROR = {"$ref": "#/components/schemas/Error"}
PAGE = {"type": "object", "required": ["ok"], "additionalProperties": True,
        "properties": {"ok": {"type": "boolean", "enum": [True]}}}
TEXT = {"type": "string", "maxLength": 256}
MOMENT = {"type": "string", "description": "15m, 2h, 7d (ago), unix seconds or ISO 8601"}
LIMIT = {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}


def _param(name: str, schema: dict[str, Any], where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema}


def _get(summary: str, params: list[dict[str, Any]], errors: tuple[int, ...]
         ) -> dict[str, Any]:
    text = {400: "Bad query value", 401: "Not logged in (off loopback)",
            403: "Off loopback without JOELCLAW_API_TOKEN configured", 404: "Unknown id",
            409: "The action cannot apply to this selection", 503: "Redis unavailable"}
    responses = {"200": {"description": "The page's data",
                         "content": {"application/json": {"schema": PAGE}}}}
    for code in (*errors, 401, 403, 503):
        responses[str(code)] = {"description": text[code],
                                "content": {"application/json": {"schema": ERROR}}}
    return {"get": {"summary": summary, "tags": ["dashboard"], "parameters": params,
                    "responses": responses}}


def paths() -> dict[str, Any]:
    runs = [_param("function", TEXT), _param("event", TEXT), _param("since", MOMENT),
            _param("until", MOMENT), _param("limit", LIMIT),
            _param("status", {"type": "string", "enum": list(STATUSES)}),
            _param("cursor", {"type": "string", "description": "next_cursor of a page"})]
    events = [_param("q", TEXT), _param("name", TEXT), _param("prefix", TEXT),
              _param("since", MOMENT), _param("limit", LIMIT),
              _param("resend", {"type": "string", "maxLength": 512,
                                "description": "an event id to fill the send form with"})]
    prefix = "/api/dashboard"
    return {
        f"{prefix}/overview": _get("Workers, beat, runs by status, latest runs", [], ()),
        f"{prefix}/functions": _get("Functions with crons, options and run statistics", [], ()),
        f"{prefix}/runs": _get("A page of runs, newest first", runs, (400,)),
        f"{prefix}/runs/{{run_id}}": _get("A run: trace, waterfall, why it waits",
                                          [_param("run_id", {"type": "string"}, "path")],
                                          (404,)),
        f"{prefix}/events": _get("Events, searched and filtered, with the runs they started",
                                 events, (400, 404)),
        f"{prefix}/events/{{event_id}}": _get("One event and its runs (any id the API "
                                              "accepts, `/` included)",
                                              [_param("event_id", {"type": "string"}, "path")],
                                              (404,)),
        f"{prefix}/needs-me": _get("What waits on the owner: failures since the last look, "
                                   "approvals, proposals, waiting runs, gateway, budget",
                                   [], ()),
        f"{prefix}/runs/bulk": _get("How many runs a bulk action would touch (a preview)", [
            _param("action", {"type": "string", "enum": ["cancel", "replay"]}, "query"),
            *runs[:5], _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000})],
            (400, 404, 409)),
        f"{prefix}/bulk/{{job_id}}": _get("A bulk job's progress",
                                           [_param("job_id", {"type": "string"}, "path")],
                                           (404,)),
        f"{prefix}/gateway": _get("The gateway queue by priority, mode, deliveries", [], ()),
        f"{prefix}/memory": _get("Memory proposals waiting for review", [], ()),
        f"{prefix}/shadow": _get("Recent shadow-replay reports with their totals", [], ()),
        f"{prefix}/shadow/{{report_id}}": _get(
            "A shadow-replay report: per run, the steps and outputs that differ, with diffs",
            [_param("report_id", {"type": "string"}, "path")], (404,)),
        f"{prefix}/forget": _get("What was forgotten (the audit), for the forget page", [], ()),
        f"{prefix}/forget/{{forget_id}}": _get(
            "One forgetting's audit record: what, when, why, how much in each store",
            [_param("forget_id", {"type": "string"}, "path")], (404,)),
    }
