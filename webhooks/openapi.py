"""The OpenAPI 3.0 document served at `/api/openapi.json`, written by hand.

Hand-written because the routes are few and plain Flask; `tests/webhooks/test_openapi.py` keeps
it honest by checking every documented route exists (and every route is documented) and by
fuzzing each operation against it.
"""

from __future__ import annotations

from typing import Any

from joelclaw.bus.records import STATUSES
from webhooks.dashboard.openapi import paths as dashboard_paths

ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad request", 401: "Missing or wrong bearer token, or the API is disabled",
            404: "Unknown id", 409: "The run's function is not loaded here",
            413: "Body too large (webhooks 256 KB, API 1 MB)",
            429: "Too many failed signatures from this IP", 503: "Redis unavailable"}
    codes = (*codes, 503)  # any route touching Redis answers 503 while it is unreachable
    return {str(code): _json(ERROR, text[code]) for code in codes}


def _param(name: str, schema: dict[str, Any], description: str,
           where: str = "query", required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path",
            "description": description, "schema": schema}


LIMIT = _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50},
               "Maximum number of items")
TIME = {"type": "string", "description": "unix seconds or ISO 8601"}
RUN_ID = _param("run_id", {"type": "string"}, "Run id", where="path")
OK_RUN = {"type": "object", "required": ["ok", "run"],
          "properties": {"ok": {"type": "boolean"}, "run": {"$ref": "#/components/schemas/Run"}}}


def _get(summary: str, response: dict[str, Any], params: list[dict[str, Any]],
         errors: tuple[int, ...] = (400, 401)) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": {"200": _json(response, "OK"), **_errors(*errors)}}}


def _paths() -> dict[str, Any]:
    events = {"type": "object", "properties": {"ok": {"type": "boolean"}, "events": {
        "type": "array", "items": {"$ref": "#/components/schemas/EventRecord"}}}}
    return {
        "/api/events": {
            "post": {
                "summary": "Send one event or a list of events",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "oneOf": [{"$ref": "#/components/schemas/EventIn"},
                              {"type": "array", "minItems": 1, "maxItems": 100,
                               "items": {"$ref": "#/components/schemas/EventIn"}}]}}}},
                "responses": {"200": _json({"type": "object", "properties": {
                    "ok": {"type": "boolean"}, "results": {
                        "type": "array", "items": {"$ref": "#/components/schemas/SendResult"}}}},
                    "Sent (or deduplicated)"), **_errors(400, 401, 413)},
            },
            **_get("Recent events, newest first (`q` searches every stored event)", events, [
                _param("q", {"type": "string", "maxLength": 512},
                       "Words, or field=value of the data (ANDed)"),
                _param("name", {"type": "string"}, "Exact event name"),
                _param("prefix", {"type": "string"}, "Event name prefix"),
                _param("since", TIME, "Only events received since"), LIMIT]),
        },
        "/api/events/{event_id}": _get(
            "One event with its runs", {"type": "object", "properties": {
                "ok": {"type": "boolean"}, "event": {"$ref": "#/components/schemas/EventRecord"}}},
            [_param("event_id", {"type": "string"}, "Event id", where="path")], (401, 404)),
        "/api/functions": _get("Registered functions", {"type": "object", "properties": {
            "ok": {"type": "boolean"}, "functions": {"type": "array", "items": {
                "$ref": "#/components/schemas/Function"}}}}, [], (401,)),
        "/api/runs": _get("Runs, newest first", {"type": "object", "properties": {
            "ok": {"type": "boolean"}, "runs": {"type": "array", "items": {
                "$ref": "#/components/schemas/Run"}}}}, [
            _param("status", {"type": "string", "enum": list(STATUSES)},
                   "Run status (comma-separated or repeated for several)"),
            _param("function", {"type": "string"}, "Function id"),
            _param("event", {"type": "string"}, "Triggering event name"),
            _param("since", TIME, "Created at or after"),
            _param("until", TIME, "Created at or before"), LIMIT]),
        "/api/runs/{run_id}": _get("A run's trace with its steps", OK_RUN, [RUN_ID], (401, 404)),
        "/api/runs/{run_id}/cancel": {"post": {
            "summary": "Cancel a run (now if idle, else after its current step)",
            "parameters": [RUN_ID],
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"reason": {"type": "string"}}}}}},
            "responses": {"200": _json(OK_RUN, "The run after the request"),
                          **_errors(400, 401, 404, 409)}}},
        "/api/runs/{run_id}/replay": {"post": {
            "summary": "Start a new run of the same function with the same event",
            "parameters": [RUN_ID],
            "responses": {"200": _json(OK_RUN, "The new run"), **_errors(401, 404, 409)}}},
        **_control_paths(),
        **_forget_paths(),
    }


def _forget_paths() -> dict[str, Any]:
    """Forgetting on request (webhooks/api_forget.py)."""
    ok = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}},
          "additionalProperties": True}
    text = {"type": "string", "minLength": 1}
    body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": False,
        "description": "Exactly one of event, match, person",
        "properties": {"event": text, "match": text, "person": text,
                       "reason": {"type": "string", "minLength": 1, "maxLength": 500},
                       "confirm": {"type": "integer", "minimum": 0,
                                   "description": "The previewed number of findings"}}}}}}
    forget_id = _param("forget_id", {"type": "string"}, "Forgetting id", where="path")
    return {
        "/api/forget": {"post": {
            "summary": "Forget an event, a text or a person everywhere: preview without "
                       "`confirm`, forget with it",
            "requestBody": body,
            "responses": {"200": _json(ok, "The preview, or the audit record"),
                          **_errors(400, 401, 404, 409)}}},
        "/api/forgotten": _get("The audit of what was forgotten, newest first", ok, [],
                               (401,)),
        "/api/forgotten/{forget_id}": _get("One audit record", ok, [forget_id], (401, 404)),
    }


def _control_paths() -> dict[str, Any]:
    """Pause/resume, wake, bulk (webhooks/api_control.py)."""
    fn_id = _param("function_id", {"type": "string"}, "Function id", where="path")
    job_id = _param("job_id", {"type": "string"}, "Bulk job id", where="path")
    ok = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}},
          "additionalProperties": True}
    job = {"type": "object", "required": ["ok", "job"], "properties": {
        "ok": {"type": "boolean"}, "job": {"$ref": "#/components/schemas/BulkJob"}}}
    body = {"required": False, "content": {"application/json": {"schema": {
        "type": "object", "properties": {"reason": {"type": "string"}}}}}}
    bulk_body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["action", "filter"], "properties": {
            "action": {"type": "string", "enum": ["cancel", "replay"]},
            "filter": {"type": "object", "additionalProperties": False, "properties": {
                "function": {"type": "string"}, "event": {"type": "string"},
                "statuses": {"type": "array", "items": {"type": "string",
                                                        "enum": list(STATUSES)}},
                "since": {"type": "number", "minimum": 0},
                "until": {"type": "number", "minimum": 0},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000}}},
            "confirm": {"type": "integer", "minimum": 0,
                        "description": "The previewed count: act on at most this many"},
            "wait": {"type": "boolean", "default": True}}}}}}
    return {
        "/api/functions/{function_id}/pause": {"post": {
            "summary": "Pause a function: its runs queue until it is resumed",
            "parameters": [fn_id], "requestBody": body,
            "responses": {"200": _json(ok, "The pause"), **_errors(400, 401, 404)}}},
        "/api/functions/{function_id}/resume": {"post": {
            "summary": "Resume a function: the runs that queued meanwhile start",
            "parameters": [fn_id],
            "responses": {"200": _json(ok, "What was released"), **_errors(401, 404)}}},
        "/api/runs/{run_id}/wake": {"post": {
            "summary": "Wake a sleeping run now (its trace says who woke it)",
            "parameters": [RUN_ID],
            "responses": {"200": _json(ok, "The woken step"), **_errors(401, 404, 409)}}},
        "/api/runs/bulk": {"post": {
            "summary": "Bulk cancel or replay: preview without `confirm`, act with it",
            "requestBody": bulk_body,
            "responses": {"200": _json(ok, "The preview, or the finished job"),
                          "202": _json(job, "The job, started in the background"),
                          **_errors(400, 401, 404, 409)}}},
        "/api/runs/bulk/{job_id}": _get("A bulk job's progress and outcomes", job, [job_id],
                                        (401, 404)),
        "/api/runs/bulk/{job_id}/resume": {"post": {
            "summary": "Go on with an interrupted bulk job",
            "parameters": [job_id],
            "responses": {"200": _json(job, "The finished job"),
                          **_errors(401, 404, 409)}}},
    }


def _public_paths() -> dict[str, Any]:
    """Routes outside the bearer scheme: probes, Prometheus and the provider webhooks."""
    public: list[dict[str, Any]] = []
    provider = _param("provider", {"type": "string"}, "Provider name (see GET /webhooks)",
                      where="path")
    accepted = {"type": "object", "properties": {
        "ok": {"type": "boolean"}, "events": {"type": "integer"},
        "ids": {"type": "array", "items": {"type": "string"}},
        "deduplicated": {"type": "integer"}, "note": {"type": "string"},
        "challenge": {"type": "string"}}}
    health = {"type": "object", "required": ["ok", "status", "components"], "properties": {
        "ok": {"type": "boolean"}, "status": {"type": "string",
                                              "enum": ["ok", "degraded", "down"]},
        "failing": {"type": "array", "items": {"type": "string"}},
        "degraded": {"type": "array", "items": {"type": "string"}},
        "components": {"type": "object", "additionalProperties": {"type": "object"}}}}
    return {
        "/health": {"get": {"summary": "Component health", "security": public,
                            "responses": {"200": _json(health, "Healthy (maybe degraded)"),
                                          "503": _json(health, "A core component is down")}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "security": public,
                             "responses": {"200": {"description": "Prometheus text format",
                                                   "content": {"text/plain": {
                                                       "schema": {"type": "string"}}}},
                                           **_errors()}}},
        "/webhooks": {"get": {"summary": "Webhook providers and whether each is configured",
                              "security": public, "responses": {"200": _json(
                                  {"type": "object"}, "The providers")}}},
        "/webhooks/{provider}": {"post": {
            "summary": "A provider's signed delivery (the provider's own format)",
            "security": public, "parameters": [provider],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {}}}},
            "responses": {"200": _json(accepted, "Accepted: events emitted (or a challenge)"),
                          **_errors(400, 401, 404, 413, 429)}}},
    }


def _schemas() -> dict[str, Any]:
    obj = {"type": "object", "additionalProperties": True}
    return {
        "Error": {"type": "object", "required": ["ok", "error"], "properties": {
            "ok": {"type": "boolean", "enum": [False]}, "error": {
                "type": "object", "required": ["message", "code"],
                "properties": {"message": {"type": "string"}, "code": {"type": "string"}}}}},
        "EventIn": {"type": "object", "required": ["name"], "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z0-9_.-]+/[a-z0-9_.-]+$",
                                 "maxLength": 256, "example": "app/thing.happened"},
                        "data": obj, "id": {"type": "string", "minLength": 1, "maxLength": 512},
                        "ts": {"type": "integer", "minimum": 0},
                        "v": {"type": "string", "nullable": True}, "source": obj}},
        "SendResult": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "status": {"type": "string", "enum": ["dispatched", "deduplicated"]},
            "runs": {"type": "array", "items": {"type": "string"}}}},
        "EventRecord": {"type": "object", "properties": {
            "event": obj, "received_at": {"type": "number"},
            "runs": {"type": "array", "items": {"type": "string"}},
            "duplicates": {"type": "integer"}}},
        "Function": {"type": "object", "properties": {
            "id": {"type": "string"}, "description": {"type": "string"},
            "queue": {"type": "string"}, "retries": {"type": "integer", "nullable": True},
            "triggers": {"type": "array", "items": {"type": "string"}}}},
        "BulkJob": {"type": "object", "additionalProperties": True, "properties": {
            "id": {"type": "string"}, "action": {"type": "string"},
            "status": {"type": "string", "enum": ["running", "done", "interrupted"]},
            "total": {"type": "integer"}, "done": {"type": "integer"},
            "counts": {"type": "object"}, "results": {"type": "array", "items": obj}}},
        "Run": {"type": "object", "additionalProperties": True, "properties": {
            "id": {"type": "string"}, "function": {"type": "string"},
            "status": {"type": "string", "enum": list(STATUSES)}}},
    }


def document() -> dict[str, Any]:
    """The whole document: the bearer-token API, plus the public routes (`security: []`)."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "joelclaw API", "version": "1.0.0",
                 "description": "Events, functions and runs of a joelclaw system."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {**_paths(), **_public_paths(), **dashboard_paths()},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _schemas(),
        },
    }
