"""`check-o11y-triage` (reference §1.2 #31's `check/o11y-triage`) and the `s4h:<key>` snooze
of its escalations.

Every 15 minutes (and on `check/o11y-triage.requested`): the failed telemetry events since the
last scan are grouped, classified into tiers by patterns, tier-2 unknowns by the LLM (background
LLM work: it waits past the daily budget); each tier-3 failure, once per dedup window, becomes a
Todoist task, a `system/agent.requested` and, at most 3 per hour, a Telegram escalation with a
snooze button. The logic is in joelclaw.telemetry.triage.

The snooze buttons are the checks' own (`joelclaw.checks.snooze`, keyed by the failure's dedup
key): the owner's press reaches `telegram-callback-received`, which snoozes the key for 4 h and
edits the escalation; a snoozed key is not escalated again.
"""

from __future__ import annotations

from typing import Any

from joelclaw import Context, cron, function


def _llm_tiers(ctx: Context[Any], unknown: list[dict[str, Any]]) -> dict[str, int]:
    from joelclaw.telemetry import triage

    if not triage.llm_configured(ctx.settings):
        return {}
    ctx.telemetry.allow_background("the o11y triage's LLM classification")
    return triage.llm_tiers(ctx.settings, unknown)


def _file_task(ctx: Context[Any], group: dict[str, Any]) -> str | None:
    s = ctx.settings
    client = ctx.checks.todoist()
    if client is None:
        return None
    try:
        task = client.create_task(
            f"o11y: {group['component']} {group['action']} ({group['pattern']})",
            description=f"{group['error'][:1500]}\n\nruns: {', '.join(group['runs'][:5])}\n"
                        f"dedup: {group['key']}", labels=["o11y"],
            project_id=s.o11y.todoist_project_id, priority=4)
    finally:
        client.close()
    return str(task.get("id")) if task.get("id") is not None else None


def _record(ctx: Context[Any], tiers: dict[str, int], escalated: int, limited: int) -> None:
    ctx.telemetry.emit("triage.summary", source="o11y", component="check-o11y-triage",
                       function_id="check-o11y-triage",
                       metadata={"tiers": tiers, "escalated": escalated, "limited": limited})


@function("check-o11y-triage", triggers=[cron(lambda s: s.o11y.triage_cron,
                                              timezone=lambda s: s.timezone),
                                         "check/o11y-triage.requested"],
          concurrency=1, retries=1)
def o11y_triage(ctx: Context[Any]) -> dict[str, Any]:
    from joelclaw.telemetry import triage

    scanned = ctx.step.run("scan", ctx.telemetry.triage_scan)
    if scanned is None:
        return {"skipped": "no Typesense configured (JOELCLAW_TYPESENSE_URL)"}
    groups = ctx.step.run("classify", triage.classify_groups, scanned["groups"])
    unknown = [g for g in groups if g["pattern"] == "unknown"]
    if unknown:
        tiers = ctx.step.run("classify-unknown-tier2-with-llm", _llm_tiers, ctx, unknown)
        groups = [{**g, "tier": tiers.get(g["key"], g["tier"]),
                   "pattern": "llm" if g["key"] in tiers else g["pattern"]} for g in groups]
    actionable = [g for g in groups if g["tier"] >= 2]
    fresh = ctx.step.run("dedup", lambda: [g["key"] for g in actionable
                                           if ctx.telemetry.fresh(g["key"])])
    escalations: list[dict[str, Any]] = []
    limited = 0
    for group in groups:
        if group["tier"] != 3 or group["key"] not in fresh:
            continue
        short = group["key"][:12]
        task_id = ctx.step.run(f"todoist-task-{short}", _file_task, ctx, group)
        request_id = f"o11y-{group['key']}"
        ctx.step.send_event(f"request-agent-{short}", {  # runs once the owner approves
            "name": "system/agent.requested", "data": {
                "tool": ctx.settings.o11y.agent_tool, "timeout": 600,
                "request_id": request_id, "origin": "o11y", "sandbox": "workspace-write",
                "task": f"Investigate and fix a recurring failure (seen {group['count']}x, "
                        f"runs {', '.join(group['runs'][:5])}); its component, action and "
                        "error text are quoted below.",
                "context": f"component: {group['component']}\naction: {group['action']}\n"
                           f"error: {group['error'][:800]}"}})
        slot = ctx.step.run(f"escalation-slot-{short}", ctx.telemetry.escalation_slot,
                            group["key"])
        sent = False
        if slot:
            text = triage.escalation_text(group, ctx.settings)
            ctx.step.run(f"remember-escalation-{short}", ctx.snooze.remember,
                         group["key"], f"🚨 {text}")  # the press edits the message with it
            result = ctx.gateway.alert(
                text, type="o11y.tier3", immediate_telegram=True, telegram_only=True,
                buttons=[[ctx.snooze.button(group["key"])]],
                step_id=f"escalate-{short}")
            sent = bool(result.get("message_ids"))
        else:
            limited += 1
        escalations.append({"key": group["key"], "task_id": task_id, "telegram": sent,
                            "limited": not slot})
        ctx.step.send_event(f"emit-escalated-{short}", {"name": "o11y/triage.escalated",
                                                        "data": {
            "dedup_key": group["key"], "component": group["component"],
            "action": group["action"], "error": group["error"][:500],
            "count": group["count"], "telegram": sent, "task_id": task_id,
            "request_id": request_id}})
    counts = {str(t): sum(1 for g in groups if g["tier"] == t) for t in (1, 2, 3)}
    ctx.step.run("record-summary", _record, ctx, counts, len(escalations) - limited, limited)
    return {"scanned": scanned["scanned"], "groups": len(groups), "tiers": counts,
            "deduplicated": len(actionable) - len(fresh), "escalations": escalations,
            "limited": limited}
