"""The heartbeat's checks (reference §1.2, issue 11). Each one owns its cooldown and contacts
the gateway only when something is actionable; each skips cleanly (a completed run saying why)
when what it needs is not configured. The logic is in joelclaw.checks; these are thin, and each
imports the check modules it calls when it runs: declaring them (`joelclaw functions`, `status`,
`schedule` read the registry) loads no check's machinery (HTTP clients, the cache, health)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from joelclaw import Context, IntegrationError, function, trigger
from tasks.system import CHECK_EVENTS

if TYPE_CHECKING:
    from joelclaw import Settings
    from joelclaw.events.payloads.checks import (
        CalendarDailyCheck,
        EmailTriageRequested,
        LoopsStaleCheck,
        SessionsPruneRequested,
        TasksTriageRequested,
        TriggersAuditRequested,
        VaultSyncCheck,
    )
    from joelclaw.events.payloads.telegram import CallbackReceived

ONE: dict[str, Any] = {"concurrency": 1}
NO_LLM = "no LLM configured (JOELCLAW_LLM_API_URL, JOELCLAW_LLM_MODEL)"
CALENDAR_COOLDOWN = "calendar:check:last-run"


def tracked_tasks(ctx: Context[Any]) -> list[dict[str, Any]]:
    """Open Todoist tasks ("already tracked"); a Todoist that fails only means none."""
    try:
        return ctx.checks.open_tasks()
    except IntegrationError as exc:
        ctx.log.warning("open tasks unavailable: %s", exc)
        return []


# ---- sessions and triggers ------------------------------------------------------------------

@function("check-sessions-prune", trigger="sessions/prune.requested", retries=1, **ONE)
def sessions_prune(ctx: Context[SessionsPruneRequested]) -> dict[str, Any]:
    """Delete session files older than the max age under the configured folders (silent)."""
    from joelclaw.checks import sessions

    if not ctx.settings.checks.sessions_prune_dirs:
        return {"skipped": "JOELCLAW_SESSIONS_PRUNE_DIRS is not set"}
    return ctx.step.run("prune-old-sessions", sessions.prune, ctx.settings)


@function("check-trigger-audit", trigger="triggers/audit.requested", retries=1, **ONE)
def trigger_audit(ctx: Context[TriggersAuditRequested]) -> dict[str, Any]:
    """Heartbeat events without a function, cron ticks beat never sent: drift, notified."""
    from joelclaw.checks import triggers_audit

    expected = [name for name, _ in CHECK_EVENTS] + ["memory/digest.requested"]
    result = ctx.step.run("audit-triggers", ctx.checks.audit_triggers, expected)
    if not triggers_audit.drifted(result):
        return result
    hours = ctx.settings.checks.triggers_audit_cooldown_hours
    if not ctx.step.run("claim-cooldown", ctx.cooldown.claim, "triggers:audit:notified",
                        hours * 3600):
        return {**result, "notified": False, "cooling_down": True}
    ctx.gateway.notify(triggers_audit.describe(result), type="cron.heartbeat.drift",
                       step_id="notify-drift")
    return {**result, "notified": True}


# ---- stale runs, vault, calendar -------------------------------------------------------------

@function("check-stale-runs", trigger="loops/stale.check", retries=1, **ONE)
def stale_runs_check(ctx: Context[LoopsStaleCheck]) -> dict[str, Any]:
    """Runs stuck queued or running too long, not tracked by a task: at most once an hour."""
    from joelclaw.checks import tracked

    stale = ctx.step.run("check-running-runs", ctx.checks.stale_runs)
    if not stale:
        return {"stale": 0}
    tasks = ctx.step.run("filter-against-tasks", tracked_tasks, ctx)
    fresh = [r for r in stale if not tracked.matching(tasks, r["id"], r["function"])]
    if not fresh:
        return {"stale": len(stale), "tracked": len(stale)}
    period = ctx.settings.health.stale_runs_cooldown_minutes * 60
    if not ctx.step.run("set-cooldown", ctx.cooldown.claim, "loops:stale:last-check", period):
        return {"stale": len(stale), "cooling_down": True}
    ctx.gateway.notify(ctx.checks.describe_stale(fresh),
                       type="loops.stale.detected", step_id="notify")
    return {"stale": len(stale), "notified": len(fresh)}


@function("check-vault-sync", trigger="vault/sync.check", retries=1, **ONE)
def vault_sync(ctx: Context[VaultSyncCheck]) -> dict[str, Any]:
    """Commit (and push) the vault folder; a failure or divergence is notified."""
    from joelclaw.checks import vault

    s = ctx.settings
    if s.checks.vault_dir is None:
        return {"skipped": "JOELCLAW_VAULT_DIR is not set"}
    result = ctx.step.run("sync", vault.sync, s)
    if result["status"] not in ("failed", "diverged"):
        return result
    if not ctx.step.run("claim-cooldown", ctx.cooldown.claim, "vault:sync:notified",
                        s.checks.vault_notify_cooldown_hours * 3600):
        return {**result, "cooling_down": True}
    ctx.gateway.notify(vault.describe(result, s), type=f"vault.sync.{result['status']}",
                       step_id=f"notify-{result['status']}")
    return {**result, "notified": True}


@function("check-calendar-today", trigger="calendar/daily.check", retries=1, **ONE)
def calendar_today(ctx: Context[CalendarDailyCheck]) -> dict[str, Any]:
    """Today's events (ICS feed or command), annotated with tasks: at most every 4 h."""
    from joelclaw.checks import calendar, window

    s = ctx.settings
    if not (s.checks.calendar_ics_url or s.checks.calendar_command):
        return {"skipped": "no JOELCLAW_CALENDAR_ICS_URL or JOELCLAW_CALENDAR_COMMAND"}
    if ctx.step.run("check-cooldown", ctx.cooldown.remaining, CALENDAR_COOLDOWN):
        return {"skipped": "cooling down"}
    ics = ctx.step.run("fetch-calendar", _fetch_calendar, s)
    day = window.local_now(s.timezone).date()
    events = calendar.events_on(ics or "", day, s.timezone)
    ctx.step.run("set-cooldown", ctx.cooldown.claim, CALENDAR_COOLDOWN,
                 s.checks.calendar_cooldown_hours * 3600)
    if not events:
        return {"events": 0, "date": day.isoformat()}
    tasks = ctx.step.run("annotate-events-with-tasks", tracked_tasks, ctx)
    annotated = calendar.annotate(events, tasks)
    ctx.gateway.notify(calendar.describe(annotated, day), type="calendar.today",
                       step_id="notify-gateway")
    return {"events": len(events), "date": day.isoformat()}


def _fetch_calendar(s: Settings) -> str | None:
    from joelclaw.checks import calendar

    try:
        return calendar.fetch(s)
    except calendar.CalendarError as exc:
        raise RuntimeError(str(exc)) from None


# ---- email and task triage (#25, #28) --------------------------------------------------------

@function("check-email-triage", trigger="email/triage.requested", retries=1, **ONE)
def email_triage_check(ctx: Context[EmailTriageRequested]) -> dict[str, Any]:
    """Front's open unreplied conversations, LLM-triaged; reply/decision needed and not
    tracked → the owner. Only within the owner's hours, every 2 h at most."""
    from joelclaw.checks import email_triage

    s = ctx.settings
    if not s.front.token:
        return {"skipped": "JOELCLAW_FRONT_TOKEN is not set"}
    hours = ctx.step.run("check-hours", _hours, s)
    if not hours["inside"]:
        return {"skipped": f"outside {s.checks.email_triage_hours} ({s.timezone}); "
                           f"it is {hours['now']}"}
    if not _llm_configured(s):
        return {"skipped": NO_LLM}
    if not ctx.step.run("check-cooldown", ctx.cooldown.claim, "email:triage:last-run",
                        s.checks.email_triage_cooldown_hours * 3600):
        return {"skipped": "cooling down"}
    conversations = ctx.step.run("fetch-front-unread", _front_unread, s)
    if not conversations:
        return {"unread": 0}
    triaged = ctx.step.run("llm-triage", ctx.checks.with_llm, "the email triage",
                           email_triage.triage, conversations)
    archived = (ctx.step.run("execute-triage", _front_archive, s, triaged)
                if s.checks.email_triage_archive else [])
    tasks = ctx.step.run("filter-against-tasks", tracked_tasks, ctx)
    attention, known = email_triage.needing_attention(triaged, tasks)
    out = {"unread": len(conversations), "attention": len(attention), "tracked": len(known),
           "archived": len(archived),
           "actions": {a: sum(1 for t in triaged if t["action"] == a)
                       for a in email_triage.ACTIONS}}
    if attention:
        ctx.gateway.notify(email_triage.describe(attention, triaged, bool(archived)),
                           type="email.needs.attention", step_id="notify-gateway")
    return out


def _hours(s: Settings) -> dict[str, Any]:
    from joelclaw.checks import window

    now = window.local_now(s.timezone)
    return {"inside": window.in_hours(s.checks.email_triage_hours, now),
            "now": now.strftime("%H:%M")}


def _llm_configured(s: Settings) -> bool:
    return bool(s.llm.api_url and s.llm.model)


def _front_unread(s: Settings) -> list[dict[str, Any]]:
    from joelclaw.checks import clients, email_triage

    client = clients.front(s)
    assert client is not None
    try:
        return email_triage.unread(s, client)
    finally:
        client.close()


def _front_archive(s: Settings, triaged: list[dict[str, Any]]) -> list[str]:
    from joelclaw.checks import clients, email_triage

    client = clients.front(s)
    assert client is not None
    try:
        return email_triage.archive(client, triaged)
    finally:
        client.close()


@function("tasks-triage", trigger="tasks/triage.requested", retries=1, **ONE)
def tasks_triage(ctx: Context[TasksTriageRequested]) -> dict[str, Any]:
    """The open tasks, LLM-triaged into a briefing; nothing while the list is unchanged."""
    from joelclaw.checks import task_triage

    s = ctx.settings
    if not s.todoist.token:
        return {"skipped": "JOELCLAW_TODOIST_TOKEN is not set"}
    if not _llm_configured(s):
        return {"skipped": NO_LLM}
    tasks = ctx.step.run("list-tasks", _all_tasks, s)
    digest = task_triage.digest(tasks)
    if not ctx.step.run("check-hash", ctx.checks.task_list_changed, digest,
                        s.checks.task_triage_hash_hours):
        return {"skipped": "task list unchanged", "tasks": len(tasks), "hash": digest[:12]}
    if not tasks:
        return {"tasks": 0}
    if not ctx.step.run("check-cooldown", ctx.cooldown.claim, "tasks:triage:last-notified",
                        s.checks.task_triage_cooldown_hours * 3600):
        return {"skipped": "cooling down", "tasks": len(tasks)}
    briefing = ctx.step.run("llm-triage", ctx.checks.with_llm, "the task triage",
                            task_triage.triage, tasks)
    ctx.gateway.notify(f"🗂️ **Task triage** ({len(tasks)} open)\n\n{briefing}",
                       type="todoist.task.triage", step_id="notify-gateway")
    return {"tasks": len(tasks), "notified": True, "hash": digest[:12]}


def _all_tasks(s: Settings) -> list[dict[str, Any]]:
    from joelclaw.checks import clients, task_triage

    client = clients.todoist(s)
    assert client is not None
    try:
        return task_triage.snapshot(client.list_tasks())
    finally:
        client.close()


# ---- Telegram buttons (#13) -------------------------------------------------------------------

@function("telegram-callback-received",
          trigger=trigger("telegram/callback.received", if_='event.data.action == "s4h"'))
def telegram_callback(ctx: Context[CallbackReceived]) -> dict[str, Any]:
    """`s4h:<key>`: snooze that notice for 4 h and say so on the original message. (Memory
    buttons are `memory-telegram-review`'s.)"""
    press = ctx.event.data
    owner = ctx.settings.telegram.owner_id
    if owner is None or press.from_id != owner:  # no owner set: no press is the owner's
        return {"skipped": "not the owner's button press"}
    key = ctx.snooze.parse(press.raw_data)
    if key is None:
        return {"skipped": f"malformed snooze button {press.raw_data!r}"}
    until = ctx.step.run("snooze", ctx.snooze.snooze, key)
    ctx.step.run("record-snoozed", _record_snoozed, ctx, key, until)
    edited = ctx.step.run("edit-message", _edit_snoozed, ctx, press, key, until)
    return {"snoozed": key, "until": until, "edited": edited}


def _record_snoozed(ctx: Context[Any], key: str, until: float) -> None:
    """The `triage.snoozed` telemetry event the old system emitted (o11y queries count it)."""
    o11y = bool(re.fullmatch(r"[0-9a-f]{32}", key))  # an o11y dedup key; else a check's
    ctx.telemetry.emit("triage.snoozed", source="o11y",
                       component="check-o11y-triage" if o11y else "checks",
                       function_id="telegram-callback-received",
                       metadata={"dedup_key": key, "until": until,
                                 "hours": ctx.snooze.SECONDS / 3600})


def _edit_snoozed(ctx: Context[Any], press: CallbackReceived, key: str, until: float) -> bool:
    """Say so on the original message; one too old to edit (or deleted) stays as it is, and
    the snooze holds anyway."""
    from joelclaw.checks import window

    if press.chat_id is None or press.message_id is None:
        return False
    zone = ctx.settings.timezone
    when = window.local_now(zone, until).strftime("%H:%M")
    original = ctx.snooze.remembered(key) or f"Notice `{key}`"
    text = f"{original}\n\n⏰ Snoozed for 4h (until {when} {zone})"
    return ctx.gateway.edit_message(press.chat_id, press.message_id, text)
