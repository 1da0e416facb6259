"""Forgetting in the dashboard: the form and the forgotten list (`/forget`), a preview of
everything derived from an event, a text or a person (nothing changes), the confirmation
(at most what the preview showed: a count that changed meanwhile is previewed again), and the
audit record it leaves (`/forget/<id>`). The text to forget travels in POST bodies only, never
in a URL a log could keep."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from joelclaw.errors import NotFound
from joelclaw.forget import ForgetError, Plan, audit, execute, plan, record
from joelclaw.redaction import redact
from webhooks.dashboard.blueprint import blueprint, rt
from webhooks.dashboard.pages import page

KINDS = {"event": "an event (by id) and all it led to", "match": "a text, wherever it appears",
         "person": "a name, as a whole word"}
DEFAULT_REASON = "forgotten on request"
MAX_VALUE = 2000


def _form() -> dict[str, str]:
    kind = request.form.get("kind", "")
    if kind not in KINDS:
        raise BadRequest(f"kind must be one of {', '.join(KINDS)}")
    value = request.form.get("value", "").strip()
    reason = request.form.get("reason", "").strip() or DEFAULT_REASON
    if len(value) > MAX_VALUE or len(reason) > 500:
        raise BadRequest("the text is too long to forget this way (use the CLI)")
    return {"kind": kind, "value": value, "reason": reason}


def _listing(**extra: Any) -> dict[str, Any]:
    return {"forgotten": audit(rt(), 50), "kinds": KINDS, "form": None, "form_error": None,
            **extra}


@page("/forget", "forget")
def forget_page() -> dict[str, Any]:
    return _listing()


@page("/forget/<forget_id>", "forget_record")
def forget_record(forget_id: str) -> dict[str, Any]:
    found = record(rt(), forget_id)
    if found is None:
        raise NotFound(f"no forgetting {forget_id!r} in the audit (it keeps the latest 1000)")
    return {"record": found}


def _plan(form: dict[str, str]) -> Plan | tuple[str, int]:
    try:
        return plan(rt(), kind=form["kind"], value=form["value"],  # type: ignore[arg-type]
                    reason=form["reason"])
    except ForgetError as exc:
        return str(exc), 400
    except NotFound as exc:
        return str(exc), 404


def _refused(form: dict[str, str], problem: tuple[str, int]) -> tuple[str, int]:
    message, status = problem
    return render_template("forget.html", page="forget",
                           **_listing(form=form, form_error=message)), status


def _preview(form: dict[str, str], found: Plan, changed: str | None = None
             ) -> str:
    return render_template("forget_preview.html", page="forget", form=form,
                           preview=redact(found.as_dict(dry_run=True)), changed=changed)


@blueprint.post("/forget/preview")
def forget_preview() -> Any:
    form = _form()
    found = _plan(form)
    if isinstance(found, tuple):
        return _refused(form, found)
    return _preview(form, found)


@blueprint.post("/forget/confirm")
def forget_confirm() -> Any:
    form = _form()
    expect = request.form.get("expect", "")
    if not expect.isdigit():
        raise BadRequest("expect (the previewed number of findings) is required")
    found = _plan(form)
    if isinstance(found, tuple):
        return _refused(form, found)
    if len(found.findings) != int(expect) or not found.findings:
        changed = (f"The preview showed {expect} finding(s); there are now "
                   f"{len(found.findings)}. Nothing was changed: check again, then confirm.")
        return _preview(form, found, changed), 409
    done = execute(rt(), found, by="owner (dashboard)")
    return redirect(url_for("dashboard.forget_record", forget_id=done["id"],
                            notice="forgotten"), 303)
