"""System functions: the heartbeat that fans out the periodic checks, the system log, and the
owner's answers to effect budgets. Each function imports the domain modules it calls when it
runs: declaring them (`joelclaw functions`, `status`, `schedule` read the registry) loads none."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from joelclaw import Context, cron, function, trigger

if TYPE_CHECKING:
    from joelclaw.events.payloads.system import LogWritten
    from joelclaw.events.payloads.telegram import CallbackReceived

# ADR-0062/0103: each check owns its cooldown and talks to the gateway only when actionable.
CHECK_EVENTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("tasks/triage.requested", {}),
    ("sessions/prune.requested", {}),
    ("triggers/audit.requested", {}),
    ("system/health.requested", {"mode": "core", "source": "heartbeat-15m"}),
    ("memory/review.check", {}),
    ("vault/sync.check", {}),
    ("email/triage.requested", {}),
    ("calendar/daily.check", {}),
    ("loops/stale.check", {}),
)


@function(
    "system-heartbeat",
    triggers=[cron("*/15 * * * *"), "system/heartbeat.wake"],
    retries=2,
)
def heartbeat(ctx: Context) -> dict[str, object]:
    """Prune old session files, fan out the periodic checks, and request the daily digest once
    late in the evening (JOELCLAW_DIGEST_WINDOW, local time) while the day has none."""
    pruned = ctx.step.run("prune-old-sessions", _prune, ctx)
    sent = ctx.step.send_event(
        "fan-out-checks", [{"name": name, "data": data} for name, data in CHECK_EVENTS]
    )
    date = ctx.step.run("maybe-request-daily-digest", _claim_digest, ctx)
    if date:
        ctx.step.send_event("fan-out-daily-digest", {"name": "memory/digest.requested",
                                                     "data": {"date": date,
                                                              "source": "heartbeat"}})
    return {"checks": len(sent), "digest_requested": bool(date),
            "pruned": pruned.get("deleted", 0)}


def _prune(ctx: Context) -> dict[str, object]:
    from joelclaw.checks import sessions

    if not ctx.settings.checks.sessions_prune_dirs:
        return {"deleted": 0, "skipped": "JOELCLAW_SESSIONS_PRUNE_DIRS is not set"}
    return sessions.prune(ctx.settings)


def _claim_digest(ctx: Context) -> str | None:
    """The local date whose digest to request now, claimed once (None: not now)."""
    from joelclaw.checks import digest, window

    s = ctx.settings
    local = window.local_now(s.timezone)
    if not window.in_window(s.checks.digest_window, local):
        return None
    date = window.window_day(s.checks.digest_window, local).isoformat()
    if digest.digest_path(s, date).exists():
        return None
    return date if ctx.checks.claim_digest_request(date) else None


@function("system-logger", trigger="system/log.written")
def system_logger(ctx: Context[LogWritten]) -> dict[str, str]:
    """Append the entry to the append-only system log under JOELCLAW_HOME, redacted: the log
    outlives the event and is read by people and tools that never need its secrets."""
    from joelclaw.telemetry import systemlog

    path = systemlog.path(ctx.settings)
    entry = {"ts": time.time(), "run_id": ctx.run_id, "event_id": ctx.event.id,
             **ctx.event.data.model_dump(mode="json")}
    ctx.step.run("append", systemlog.append, str(path), systemlog.line(ctx.settings, entry))
    return {"path": str(path)}


@function("budget-button",
          trigger=trigger("telegram/callback.received", if_='event.data.action == "bgt"'))
def budget_button(ctx: Context[CallbackReceived]) -> dict[str, object]:
    """`bgt:<ask id>:<once|day|stop>`, pressed by the owner (anyone else: nothing): the runs
    waiting at an effect budget go on (once, or for the day) or are cancelled."""
    from joelclaw.gateway import budget_answer

    return budget_answer.press(ctx)
