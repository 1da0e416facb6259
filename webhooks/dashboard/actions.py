"""The buttons: every state change is a POST (CSRF-checked in blueprint.py) that answers with a
redirect to the page showing its result, so a reload never repeats it. Login and logout too."""

from __future__ import annotations

import json
from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, Conflict

from joelclaw.bus.control import cancel_run, pause, replay_run, rerun_run, resume, wake_run
from joelclaw.errors import EventError, JoelclawError, NotFound
from joelclaw.events.schemas import parse_event
from joelclaw.events.store import get_event
from joelclaw.insight.review import ReviewUnavailable, review_queue
from joelclaw.redaction import configured_secrets, redact
from webhooks.access import api_token, token_matches
from webhooks.dashboard import models
from webhooks.dashboard.blueprint import blueprint, guard, rt, secure_request
from webhooks.dashboard.security import safe_next
from webhooks.limits import TOKENS, request_blocked, request_failed

MAX_FIELD = 64 * 1024
NOTICES = {
    "cancelled": "Run cancelled.",
    "cancel-requested": "Cancel requested: the run stops after its current step.",
    "replayed": "Replay started: this is the new run.",
    "rerun": "Rerun started: earlier steps are reused, this step and the ones after it run.",
    "sent": "Event sent.",
    "duplicate": "An event with this id was already sent within 24 h: nothing new started.",
    "asleep": "Sleep mode on: notifications are held until wake.",
    "awake": "Awake: held notifications are being delivered.",
    "approved": "Proposal approved.",
    "rejected": "Proposal rejected.",
    "logged-out": "Logged out.",
    "woken": "Woken: the sleep ends now and the run goes on.",
    "answered": "Event sent: the waiting run resumes when it matches.",
    "paused": "Paused: new runs queue until you resume.",
    "resumed": "Resumed: the runs that queued meanwhile are starting.",
    "approval-sent": "Answer sent: the waiting agent goes on.",
    "seen": "Marked seen: only new failures show from now on.",
    "dismissed": "Dismissed.",
    "retried": "Message queued again.",
    "dropped": "Message dropped.",
    "forgotten": "Forgotten everywhere it was found; this record of it stays (without the text).",
}


@blueprint.app_template_global()
def notice() -> str | None:
    return NOTICES.get(request.args.get("notice", ""))


def _field(name: str, *, required: bool = False) -> str | None:
    value = request.form.get(name, "")
    if len(value) > MAX_FIELD:
        raise BadRequest(f"{name} is longer than {MAX_FIELD} characters")
    if required and not value.strip():
        raise BadRequest(f"{name} is required")
    return value.strip() or None


def _control(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except NotFound:
        raise
    except JoelclawError as exc:
        raise Conflict(str(exc)) from None


@blueprint.post("/runs/<run_id>/cancel")
def cancel(run_id: str) -> Any:
    done = _control(cancel_run, rt(), run_id, "cancelled from the dashboard")
    code = "cancelled" if done.status == "cancelled" else "cancel-requested"
    return redirect(url_for("dashboard.run", run_id=run_id, notice=code), 303)


@blueprint.post("/runs/<run_id>/replay")
def replay(run_id: str) -> Any:
    new = _control(replay_run, rt(), run_id)
    return redirect(url_for("dashboard.run", run_id=new.id, notice="replayed"), 303)


@blueprint.post("/runs/<run_id>/rerun")
def rerun(run_id: str) -> Any:
    new = _control(rerun_run, rt(), run_id, _field("step"))
    return redirect(url_for("dashboard.run", run_id=new.id, notice="rerun"), 303)


@blueprint.post("/runs/<run_id>/wake")
def wake(run_id: str) -> Any:
    _control(wake_run, rt(), run_id, "owner (dashboard)")
    return redirect(url_for("dashboard.run", run_id=run_id, notice="woken"), 303)


@blueprint.post("/functions/<function_id>/<verb>")
def pause_or_resume(function_id: str, verb: str) -> Any:
    if verb == "pause":
        pause(rt(), function_id, by="owner (dashboard)", reason=_field("reason"))
    elif verb == "resume":
        resume(rt(), function_id)
    else:
        raise BadRequest("verb must be pause or resume")
    target = safe_next(_field("next")) if _field("next") else url_for("dashboard.functions")
    return redirect(_with_notice(target, "paused" if verb == "pause" else "resumed"), 303)


@blueprint.post("/events/send")
def send_event() -> Any:
    form = {name: _field(name) or "" for name in ("name", "data", "id", "resend_of", "next")}
    try:
        data = json.loads(form["data"]) if form["data"] else {}
        if not isinstance(data, dict):
            raise EventError("data must be a JSON object, like {\"key\": 1}")
        if form["resend_of"]:
            data = _restore_redacted(data, form["resend_of"])
        raw: dict[str, Any] = {"name": form["name"], "data": data,
                               "source": {"via": "dashboard"}}
        if form["id"]:
            raw["id"] = form["id"]
        sent = rt().send(parse_event(raw))[0]
    except (ValueError, EventError) as exc:
        model = models.events(rt(), name=None, prefix=None, query=None, since=None, size=20)
        model["form"] = form
        return render_template("events.html", page="events", form_error=str(exc),
                               **model), 400
    code = "sent" if sent.status == "dispatched" else "duplicate"
    if form["next"]:
        return redirect(_with_notice(safe_next(form["next"]),
                                     "answered" if code == "sent" else code), 303)
    return redirect(url_for("dashboard.event", event_id=sent.id, notice=code), 303)


def _restore_redacted(edited: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Edit-and-resend: a value still as the page showed it (redacted) keeps its stored value,
    so resending never sends `[redacted]` where a secret was."""
    record = get_event(rt().redis, event_id)
    if record is None:
        raise EventError(f"the event {event_id!r} to resend is gone (events are kept 7 days)")
    secrets = configured_secrets(rt().settings)

    def merge(new: Any, old: Any, shown: Any) -> Any:
        if isinstance(new, dict) and isinstance(old, dict) and isinstance(shown, dict):
            return {k: merge(v, old[k], shown.get(k)) if k in old else v
                    for k, v in new.items()}
        if isinstance(new, list) and isinstance(old, list) and isinstance(shown, list) \
                and len(new) == len(old) == len(shown):
            return [merge(n, o, w) for n, o, w in zip(new, old, shown, strict=True)]
        return old if new != old and new == shown else new

    stored = record["event"].get("data") or {}
    return merge(edited, stored, redact(stored, secrets))


def _with_notice(target: str, code: str) -> str:
    return f"{target}{'&' if '?' in target else '?'}notice={code}"


@blueprint.post("/gateway/<mode>")
def gateway_mode(mode: str) -> Any:
    from joelclaw.gateway import commands
    from joelclaw.gateway.service import Gateway

    if mode not in ("sleep", "wake"):
        raise BadRequest("mode must be sleep or wake")
    commands.run(Gateway(rt()), f"/{mode}")
    return redirect(url_for("dashboard.gateway",
                            notice="asleep" if mode == "sleep" else "awake"), 303)


@blueprint.post("/memory/<proposal_id>/<verdict>")
def review(proposal_id: str, verdict: str) -> Any:
    if verdict not in ("approve", "reject"):
        raise BadRequest("verdict must be approve or reject")
    try:
        queue = review_queue(rt())
    except ReviewUnavailable as exc:
        raise Conflict(f"memory not available: {exc}") from None
    try:
        if verdict == "approve":
            queue.approve(proposal_id)
        else:
            queue.reject(proposal_id, _field("reason"))
    except KeyError:
        raise NotFound(f"no proposal {proposal_id!r}") from None
    except ValueError as exc:
        raise Conflict(str(exc)) from None
    code = "approved" if verdict == "approve" else "rejected"
    if _field("next"):
        return redirect(_with_notice(safe_next(_field("next")), code), 303)
    return redirect(url_for("dashboard.memory", notice=code), 303)


# ---- login / logout -------------------------------------------------------------------

@blueprint.get("/login")
def login() -> Any:
    return render_template("login.html", page="login", next=safe_next(request.args.get("next")),
                           error=None)


@blueprint.post("/login")
def login_post() -> Any:
    target = safe_next(request.form.get("next"))
    client = rt().redis
    if request_blocked(client, request, TOKENS):
        return render_template("login.html", page="login", next=target,
                               error="too many wrong tokens: wait a minute"), 429
    if not token_matches(request.form.get("token", ""), api_token()):
        request_failed(client, request, TOKENS)
        return render_template("login.html", page="login", next=target,
                               error="wrong token"), 401
    session = guard().new(authenticated=True)
    g.dash_session = session  # a new session id on login: no fixation
    response = redirect(target, 303)
    guard().store(response, session, secure=secure_request())
    session.fresh = False
    return response


@blueprint.post("/logout")
def logout() -> Any:
    response = redirect(url_for("dashboard.overview", notice="logged-out"), 303)
    guard().forget(response, g.get("dash_session"), secure=secure_request())
    g.dash_session = None
    return response
