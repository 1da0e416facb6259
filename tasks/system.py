"""System functions: the heartbeat that fans out the periodic checks, the system log, and the
owner's answers to effect budgets."""

from __future__ import annotations

import fcntl
import json
import time

from joelclaw import Context, cron, function, trigger
from joelclaw.bus.execution import engine
from joelclaw.checks import digest, sessions
from joelclaw.checks.window import in_window, local_now, window_day
from joelclaw.coordination import budgets
from joelclaw.events.payloads.system import LogWritten
from joelclaw.events.payloads.telegram import CallbackReceived
from joelclaw.redaction import configured_secrets, redact

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
    if not ctx.settings.checks.sessions_prune_dirs:
        return {"deleted": 0, "skipped": "JOELCLAW_SESSIONS_PRUNE_DIRS is not set"}
    return sessions.prune(ctx.settings)


def _claim_digest(ctx: Context) -> str | None:
    """The local date whose digest to request now, claimed once (None: not now)."""
    s = ctx.settings
    local = local_now(s.timezone)
    if not in_window(s.checks.digest_window, local):
        return None
    date = window_day(s.checks.digest_window, local).isoformat()
    if digest.digest_path(s, date).exists():
        return None
    return date if ctx.checks.claim_digest_request(date) else None


@function("system-logger", trigger="system/log.written")
def system_logger(ctx: Context[LogWritten]) -> dict[str, str]:
    """Append the entry to the append-only system log under JOELCLAW_HOME, redacted: the log
    outlives the event and is read by people and tools that never need its secrets."""
    path = ctx.settings.home_dir / "logs" / "system.jsonl"
    entry = {"ts": time.time(), "run_id": ctx.run_id, "event_id": ctx.event.id,
             **ctx.event.data.model_dump(mode="json")}
    secrets = configured_secrets(ctx.settings)
    ctx.step.run("append", _append_line, str(path), json.dumps(redact(entry, secrets)))
    return {"path": str(path)}


def _append_line(path: str, line: str) -> bool:
    from pathlib import Path

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(line + "\n")
    return True


@function("budget-button",
          trigger=trigger("telegram/callback.received", if_='event.data.action == "bgt"'))
def budget_button(ctx: Context[CallbackReceived]) -> dict[str, object]:
    """`bgt:<ask id>:<once|day|stop>`, pressed by the owner (anyone else: nothing): the runs
    waiting at an effect budget go on (once, or for the day) or are cancelled."""
    press = ctx.event.data
    owner = ctx.settings.telegram.owner_id
    if owner is None or press.from_id != owner:
        return {"skipped": "not the owner's button press"}
    ask_id, _, verb = press.context.rpartition(":")
    if verb not in budgets.VERBS:
        return {"skipped": f"not a budget button: {press.raw_data!r}"}
    answered = ctx.step.run("answer", lambda: budgets.answer(engine(ctx), ask_id, verb,
                                                             by="telegram"))
    if answered is None:
        return {"skipped": "not pending", "ask": ask_id}
    return {"ask": ask_id, "answer": verb, "runs": answered["runs"]}
