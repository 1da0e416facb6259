"""System functions: the heartbeat that fans out the periodic checks, and the system log."""

from __future__ import annotations

import fcntl
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from joelclaw import keys
from joelclaw.bus.context import Context
from joelclaw.bus.functions import cron, function
from joelclaw.cooldown import cooldown
from joelclaw.events.payloads.system import LogWritten
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
DIGEST_WINDOW = ((23, 45), (23, 59))  # local time in which the daily digest is requested


@function(
    "system-heartbeat",
    triggers=[cron("*/15 * * * *"), "system/heartbeat.wake"],
    retries=2,
)
def heartbeat(ctx: Context) -> dict[str, object]:
    """Fan out the periodic checks, and request the daily digest once late in the evening."""
    sent = ctx.step.send_event(
        "fan-out-checks", [{"name": name, "data": data} for name, data in CHECK_EVENTS]
    )
    tz = ctx.runtime.settings.timezone
    digest = ctx.step.run("maybe-request-daily-digest", _claim_digest, ctx, tz)
    if digest:
        ctx.step.send_event("fan-out-daily-digest", {"name": "memory/digest.requested"})
    return {"checks": len(sent), "digest_requested": bool(digest)}


def _claim_digest(ctx: Context, tz: str) -> bool:
    local = datetime.now(ZoneInfo(tz))
    (start_h, start_m), (end_h, end_m) = DIGEST_WINDOW
    if not (start_h, start_m) <= (local.hour, local.minute) <= (end_h, end_m):
        return False
    return cooldown(ctx.runtime.redis, keys.digest_claimed(local.date().isoformat()), 86400)


@function("system-logger", trigger="system/log.written")
def system_logger(ctx: Context[LogWritten]) -> dict[str, str]:
    """Append the entry to the append-only system log under JOELCLAW_HOME, redacted: the log
    outlives the event and is read by people and tools that never need its secrets."""
    path = ctx.runtime.settings.home_dir / "logs" / "system.jsonl"
    entry = {"ts": time.time(), "run_id": ctx.run_id, "event_id": ctx.event.id,
             **ctx.event.data.model_dump(mode="json")}
    secrets = configured_secrets(ctx.runtime.settings)
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
