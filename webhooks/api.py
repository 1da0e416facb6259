"""The JSON API under `/api`, behind `Authorization: Bearer <token>` (`webhooks.access`: the
one rule of the web app; a wrong token counts toward a 429).

With no token configured every route answers 403 saying so: an API that anyone on the network
could drive (send events, cancel runs) is worse than none. Ids that do not exist are 404 JSON,
bad query values and bodies are 400 with the reason, never a 500.
"""

from __future__ import annotations

import json
import math
from datetime import datetime

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from joelclaw.bus.control import cancel_run, paused, replay_run
from joelclaw.bus.records import STATUSES
from joelclaw.errors import EventError, JoelclawError, NotFound
from joelclaw.events import strictjson
from joelclaw.events.index import search
from joelclaw.events.limits import MAX_EVENT_BYTES, too_large
from joelclaw.events.model import Event
from joelclaw.events.schemas import parse_event
from joelclaw.events.store import get_event, list_events
from joelclaw.insight.trace import run_trace
from webhooks import access, metrics
from webhooks.app import runtime
from webhooks.http import BodyTooLarge, fail, read_body
from webhooks.openapi import document

MAX_BODY_BYTES = MAX_EVENT_BYTES  # a request of up to 100 events, each within the limit
MAX_EVENTS_PER_REQUEST = 100
MAX_LIMIT = 1000
blueprint = Blueprint("api", __name__, url_prefix="/api")


class BadQuery(JoelclawError, ValueError):
    """A query parameter or body the caller must fix (400)."""


@blueprint.before_request
def _require_token() -> tuple[Response, int] | None:
    """Every /api route except the OpenAPI document needs the bearer token (no cookie: a
    browser's login never drives the API)."""
    if request.endpoint == "api.openapi":
        return None
    return access.require()


@blueprint.errorhandler(BadQuery)
def _bad_query(exc: BadQuery) -> tuple[Response, int]:
    return fail(400, str(exc), "BAD_REQUEST")


@blueprint.errorhandler(EventError)
def _bad_event(exc: EventError) -> tuple[Response, int]:
    return fail(400, str(exc), exc.code)


@blueprint.errorhandler(NotFound)
def _not_found(exc: NotFound) -> tuple[Response, int]:
    return fail(404, str(exc), exc.code)


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@blueprint.post("/events")
def send_events() -> Response:
    """Validate every event first, so a batch is sent whole or not at all."""
    rt = runtime()
    events = _events_from_body()
    results = rt.send(events)
    tally = metrics.Tally()
    for result in results:
        tally.event(result.name, result.status)
    tally.flush(rt.redis)
    return jsonify({"ok": True, "results": [r.to_dict() for r in results]})


@blueprint.get("/events")
def events() -> Response:
    """Newest first; `q` searches every stored event by word and by `field=value`."""
    query = _text("q")
    if query:
        found = search(runtime().redis, query, name=_text("name"), prefix=_text("prefix"),
                       since=_time("since"), limit=_limit())
    else:
        found = list_events(runtime().redis, name=_text("name"), prefix=_text("prefix"),
                            since=_time("since"), limit=_limit())
    return jsonify({"ok": True, "events": found})


@blueprint.get("/events/<anyid:event_id>", merge_slashes=False)
def event(event_id: str) -> Response:
    record = get_event(runtime().redis, event_id)
    if record is None:
        raise NotFound(f"no event with id {event_id!r} (events expire after 7 days)")
    return jsonify({"ok": True, "event": record})


@blueprint.get("/functions")
def functions() -> Response:
    pauses = paused(runtime())
    listed = [
        {"id": fn.id, "description": fn.description, "queue": fn.queue, "retries": fn.retries,
         "triggers": [t.describe() for t in fn.triggers], "paused": pauses.get(fn.id)}
        for fn in runtime().registry
    ]
    return jsonify({"ok": True, "functions": listed})


@blueprint.get("/runs")
def runs() -> Response:
    found = runtime().runs.list(function=_text("function"), status=_statuses(),
                                since=_time("since"), until=_time("until"),
                                event_name=_text("event"), limit=_limit())
    return jsonify({"ok": True, "runs": [r.summary() for r in found]})


@blueprint.get("/runs/<run_id>")
def run(run_id: str) -> Response:
    trace = run_trace(runtime(), run_id)
    if trace is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after the retention period)")
    return jsonify({"ok": True, "run": json.loads(json.dumps(trace, default=str))})


@blueprint.post("/runs/<run_id>/cancel")
def cancel(run_id: str) -> tuple[Response, int]:
    reason = _optional_reason()
    try:
        done = cancel_run(runtime(), run_id, reason or "cancelled over the API")
    except NotFound:
        raise
    except JoelclawError as exc:
        return fail(409, str(exc), exc.code)
    return jsonify({"ok": True, "run": done.summary()}), 200


@blueprint.post("/runs/<run_id>/replay")
def replay(run_id: str) -> tuple[Response, int]:
    try:
        new = replay_run(runtime(), run_id)
    except NotFound:
        raise
    except JoelclawError as exc:
        return fail(409, str(exc), exc.code)
    return jsonify({"ok": True, "run": new.summary(), "replay_of": run_id}), 200


# --------------------------------------------------------------------------- parsing


def _events_from_body() -> list[Event]:
    try:
        raw = read_body(MAX_BODY_BYTES, runtime().settings.web.body_timeout_seconds)
    except BodyTooLarge as exc:
        raise RequestEntityTooLarge(too_large(request.content_length, "the body")) from exc
    try:
        body = strictjson.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadQuery(f"malformed JSON: {str(exc)[:200]}") from None
    items = body if isinstance(body, list) else [body]
    if not items:
        raise BadQuery("no events: send one event object or a non-empty list")
    if len(items) > MAX_EVENTS_PER_REQUEST:
        raise BadQuery(f"at most {MAX_EVENTS_PER_REQUEST} events per request")
    events = []
    for index, item in enumerate(items):
        try:
            events.append(parse_event(item))
        except EventError as exc:
            where = f"event {index}: " if isinstance(body, list) else ""
            raise EventError(f"{where}{exc}") from None
        except RecursionError:
            raise BadQuery(f"event {index} is nested too deeply") from None
    return events


def _optional_reason() -> str | None:
    raw = read_body(MAX_BODY_BYTES, runtime().settings.web.body_timeout_seconds)
    if not raw.strip():
        return None
    try:
        body = strictjson.loads(raw)
    except (ValueError, RecursionError):
        raise BadQuery("body must be JSON like {\"reason\": \"...\"} or empty") from None
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and not isinstance(reason, str):
        raise BadQuery("reason must be a string")
    return reason[:500] if reason else None


def _text(name: str) -> str | None:
    value = request.args.get(name)
    if value is not None and len(value) > 512:
        raise BadQuery(f"{name} is too long")
    return value or None


def _limit(default: int = 50) -> int:
    value = request.args.get("limit")
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        raise BadQuery(f"limit must be an integer, got {value[:50]!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadQuery(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _time(name: str) -> float | None:
    """Unix seconds or an ISO 8601 timestamp (a naive one is UTC)."""
    value = request.args.get(name)
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = _iso_seconds(name, value)
    if not math.isfinite(seconds) or not 0 <= seconds < 1e11:
        raise BadQuery(f"{name} is out of range")
    return seconds


def _iso_seconds(name: str, value: str) -> float:
    from datetime import UTC

    try:
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise BadQuery(f"{name} must be unix seconds or ISO 8601, got {value[:50]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.timestamp()
    except (ValueError, OverflowError):
        raise BadQuery(f"{name} is out of range") from None


def _statuses() -> list[str] | None:
    values = [s for v in request.args.getlist("status") for s in v.split(",") if s]
    unknown = sorted(set(values) - set(STATUSES))
    if unknown:
        raise BadQuery(f"unknown status {', '.join(unknown)}; one of {', '.join(STATUSES)}")
    return values or None
