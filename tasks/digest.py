"""The daily digest (reference #44): requested by the heartbeat late in the evening (or by
anyone with `memory/digest.requested`), at most one per date, written by the LLM through the
one client. The functions import the check modules they call when they run: declaring them
loads none."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw import Context, function

if TYPE_CHECKING:
    from joelclaw.events.payloads.checks import DigestRequested
    from joelclaw.events.payloads.system import FunctionFailed


def _release(ctx: Context[FunctionFailed]) -> dict[str, Any]:
    """A failed digest run gives the date back, so a later request can write it."""
    from joelclaw.checks import window

    failed = ctx.event.data
    date = ((failed.event.get("data") or {}).get("date")
            or window.local_now(ctx.settings.timezone).date().isoformat())
    ctx.checks.release_digest(date, failed.run_id)
    return {"released": date}


@function("memory-daily-digest", trigger="memory/digest.requested", concurrency=1, retries=2,
          on_failure=_release)
def daily_digest(ctx: Context[DigestRequested]) -> dict[str, Any]:
    """The day's memory log and runs → `<digest dir>/<date>.md`, once per date."""
    from joelclaw.checks import digest, window

    s = ctx.settings
    date = ctx.event.data.date or ctx.step.run(
        "today", lambda: window.local_now(s.timezone).date().isoformat())
    if not (s.llm.api_url and s.llm.model):
        return {"skipped": "no LLM configured (JOELCLAW_LLM_API_URL, JOELCLAW_LLM_MODEL)",
                "date": date}
    if not ctx.step.run("claim-date", ctx.checks.claim_digest, date, ctx.run_id):
        return {"skipped": "already written for this date", "date": date}
    found = ctx.step.run("gather", ctx.checks.digest_material, date)
    path = ctx.step.run("write-digest", ctx.checks.with_llm, "the daily digest", digest.write,
                        s, date, found)
    ctx.step.send_event("emit-created", {"name": "memory/digest.created", "data": {
        "date": date, "source_path": str(digest.source_path(s, date)), "digest_path": path}})
    return {"date": date, "digest_path": path}

