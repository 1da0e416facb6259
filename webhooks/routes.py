"""`POST /webhooks/<provider>` and `GET /webhooks`: providers call in, events go on the bus.

The order of the checks is the contract (SPEC §6): unknown provider 404; an IP over its failure
budget 429; body over 256 KB 413; secret not configured 401; bad signature 401 (counted toward
the IP's budget); provider challenge answered; malformed JSON or a payload normalize rejects 400;
otherwise the events are stored and their runs published, and the answer is
`200 {"ok": true, "events": N, "ids": [...]}`. Nothing here calls a provider's API: functions
that need more detail fetch it in their own steps, so the provider gets its answer in
milliseconds and never retries for our slowness.
"""

from __future__ import annotations

import time

from flask import Blueprint, Response, jsonify, request

from joelclaw.errors import EventError
from joelclaw.events import strictjson
from joelclaw.events.model import Event
from joelclaw.integrations import echo
from joelclaw.runtime import Runtime
from webhooks import access, limits, metrics
from webhooks.app import runtime
from webhooks.dashboard.security import logged_in
from webhooks.http import BodyTooLarge, fail, read_body
from webhooks.providers import PROVIDERS, Provider, get_provider

MAX_BODY_BYTES = 256 * 1024
blueprint = Blueprint("webhooks", __name__)


@blueprint.get("/webhooks")
@blueprint.get("/webhooks/")
def list_providers() -> Response | tuple[Response, int]:
    """Which providers exist and which have a secret (behind the token, like every view; the
    secrets themselves never leave)."""
    refused = access.require(logged_in=logged_in(request))
    if refused is not None:
        return refused
    settings = runtime().settings
    providers = [
        {"name": p.name, "route": f"/webhooks/{p.name}", "secret_setting": p.secret_setting,
         "configured": bool(getattr(settings, p.secret_setting, None))}
        for p in PROVIDERS.values()
    ]
    return jsonify({"ok": True, "providers": providers})


@blueprint.post("/webhooks/<provider>")
def receive(provider: str) -> tuple[Response, int]:
    found = get_provider(provider)
    if found is None:
        return fail(404, f"unknown webhook provider {provider[:100]!r}; see GET /webhooks",
                    "NOT_FOUND")
    # Redis errors become a 503 in the app's handler, so the provider retries the delivery.
    rt, tally = runtime(), metrics.Tally()
    try:
        return _receive(rt, found, tally)
    finally:
        tally.flush(rt.redis)


def _receive(rt: Runtime, provider: Provider, tally: metrics.Tally) -> tuple[Response, int]:
    if limits.request_blocked(rt.redis, request):
        tally.verification(provider.name, "rate_limited")
        ip = limits.client_ip(request)
        return fail(429, f"too many failed signatures from {ip}; retry in a minute",
                    "RATE_LIMITED")
    try:
        raw = read_body(MAX_BODY_BYTES, rt.settings.web.body_timeout_seconds)
    except BodyTooLarge as exc:
        return fail(413, str(exc), "PAYLOAD_TOO_LARGE")
    secret = getattr(rt.settings, provider.secret_setting, None)
    if not secret:
        tally.verification(provider.name, "unconfigured")
        variable = "JOELCLAW_" + provider.secret_setting.upper()
        return fail(401, f"{provider.name} webhooks are not configured: set {variable}",
                    "NOT_CONFIGURED")
    headers = dict(request.headers.items())
    if not _verified(provider, raw, headers, secret):
        tally.verification(provider.name, "invalid")
        limits.request_failed(rt.redis, request)
        return fail(401, "invalid signature", "INVALID_SIGNATURE")
    tally.verification(provider.name, "valid")
    answer = provider.challenge(headers, raw) if provider.challenge else None
    if answer is not None:
        return jsonify(answer), 200
    events, error = _normalize(provider, raw, headers)
    if error is not None:
        return fail(400, error, "BAD_REQUEST")
    if provider.accepts is not None:
        owner = getattr(rt.settings, provider.owner_setting or "", None)
        ignored = [e for e in events if not provider.accepts(e, owner)]
        for event in ignored:
            tally.event(event.name, "ignored")
        if ignored and len(ignored) == len(events):
            return jsonify({"ok": True, "events": 0, "ids": [], "deduplicated": 0,
                            "note": "ignored: not from the owner"}), 200
        events = [e for e in events if e not in ignored]
    return _emit(rt, events, tally)


def _verified(provider: Provider, raw: bytes, headers: dict[str, str], secret: str) -> bool:
    """A verifier that trips over hostile input has not verified anything."""
    try:
        return bool(provider.verify(raw, headers, secret, now=time.time()))
    except (ValueError, TypeError, UnicodeError, RecursionError):
        return False


def _normalize(
    provider: Provider, raw: bytes, headers: dict[str, str]
) -> tuple[list[Event], str | None]:
    """The provider's events, or the reason the body is unusable (JSON or shape)."""
    try:
        payload = strictjson.loads(raw)
    except (ValueError, RecursionError) as exc:
        return [], f"malformed JSON: {str(exc)[:200]}"
    try:
        return provider.normalize(payload, headers), None
    except RecursionError:
        return [], "payload nested too deeply"
    except (ValueError, TypeError) as exc:
        return [], f"unusable {provider.name} payload: {str(exc)[:300]}"


def _emit(rt: Runtime, events: list[Event], tally: metrics.Tally) -> tuple[Response, int]:
    """Send what is left after echo suppression; a redelivery comes back deduplicated."""
    kept = [e for e in events if not _is_echo(rt, e)]
    for event in events:
        if event not in kept:
            tally.event(event.name, "suppressed")
    if not kept:
        note = "nothing to emit" if not events else "suppressed: completed by joelclaw itself"
        return jsonify({"ok": True, "events": 0, "ids": [], "deduplicated": 0, "note": note}), 200
    try:
        results = rt.send(kept)
    except EventError as exc:
        for event in kept:
            tally.event(event.name, "invalid")
        return fail(400, str(exc), "INVALID_EVENT")
    for result in results:
        tally.event(result.name, result.status)
    duplicates = sum(1 for r in results if r.status == "deduplicated")
    body = {"ok": True, "events": len(results), "ids": [r.id for r in results],
            "deduplicated": duplicates}
    return jsonify(body), 200


def _is_echo(rt: Runtime, event: Event) -> bool:
    if event.name != "todoist/task.completed":
        return False
    task_id = getattr(event.data, "task_id", None)
    return echo.completed_by_system(rt.redis, task_id if isinstance(task_id, str) else None)
