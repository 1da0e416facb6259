"""System health and the network snapshot: `check-system-health` (fatal told at once, degraded
looked at again and told once per component per cooldown), its hourly signals schedule, and the
silent `network-status-update` its full mode asks for. The logic is in joelclaw.checks
(`system_health`, `network`); like the heartbeat's other checks (tasks/checks.py), each function
imports what it calls when it runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw import Context, cron, function
from tasks.checks import ONE, tracked_tasks

if TYPE_CHECKING:
    from joelclaw.events.payloads.checks import HealthCheck, NetworkUpdate
    from joelclaw.events.payloads.system import HealthRequested


# ---- system health (#21, #22) ---------------------------------------------------------------

@function("check-system-health", triggers=["system/health.requested", "system/health.check"],
          retries=1, **ONE)
def system_health_check(ctx: Context[HealthRequested | HealthCheck]) -> dict[str, Any]:
    """The health report + disk + stale runs (core), the run error rate (signals), or both
    (full); fatal → straight to Telegram, degraded → one notice per component per cooldown,
    unless an open task tracks it or its notice was snoozed.

    A degraded component is looked at again after `JOELCLAW_HEALTH_CONFIRM_SECONDS` (a durable
    sleep) before anyone is told: one starting or restarting (the gateway after downtime, when
    beat fires the missed heartbeat at once; Typesense coming back) is well within seconds, so
    only what is still degraded then is news. Fatal findings are told at once."""
    from joelclaw.checks import system_health

    s = ctx.settings
    mode = ctx.event.data.mode
    result = ctx.step.run("check", ctx.checks.health, mode)
    fatal = [f for f in result["findings"] if f["severity"] == "fatal"]
    degraded = [f for f in result["findings"] if f["severity"] == "degraded"]
    out: dict[str, Any] = {"mode": mode, "status": result["status"],
                           "findings": result["findings"], "notified": []}
    if fatal and ctx.step.run("fatal-cooldown", ctx.cooldown.claim, "health:fatal",
                              s.health.fatal_cooldown_minutes * 60):
        # Before any agent turn: the alert goes straight to Telegram, then (a P0 copy) to
        # the agent; the gateway worker itself may be what is down.
        ctx.gateway.alert(system_health.describe(fatal, fatal=True), type="system.fatal",
                          fatal=True, step_id="notify-fatal-immediate")
        out["notified"].append("system.fatal")
    if degraded and s.health.confirm_seconds > 0:
        ctx.step.sleep("confirm", s.health.confirm_seconds)
        again = ctx.step.run("check-again", ctx.checks.health, mode)
        first = {f["component"] for f in degraded}
        degraded = [f for f in again["findings"]
                    if f["severity"] == "degraded" and f["component"] in first]
        out["recovered"] = sorted(first - {f["component"] for f in degraded})
    if degraded:
        tasks = ctx.step.run("filter-against-tasks", tracked_tasks, ctx)
        fresh = ctx.step.run("claim-degraded", _claim_degraded, ctx, degraded, tasks)
        out["tracked"] = fresh["tracked"]
        out["snoozed"] = fresh["snoozed"]
        if fresh["notify"]:
            text = system_health.describe(fresh["notify"], fatal=False)
            names = [f["component"] for f in fresh["notify"]]
            ctx.step.run("remember-text", _remember, ctx, names, text)
            buttons = [[ctx.snooze.button(system_health.snooze_key(n), f"😴 {n} 4h")]
                       for n in names]
            ctx.gateway.notify(text, type="system.health.degraded", buttons=buttons,
                               step_id="notify-degradation")
            out["notified"].append("system.health.degraded")
    if mode == "full":
        ctx.step.send_event("emit-network-update", {
            "name": "system/network.update",
            "data": {"source": "check-system-health", "checked_at": time.time()}})
    return out


def _remember(ctx: Context[Any], names: list[str], text: str) -> bool:
    from joelclaw.checks import system_health

    for name in names:
        ctx.snooze.remember(system_health.snooze_key(name), text)
    return True


def _claim_degraded(ctx: Context[Any], degraded: list[dict[str, str]],
                    tasks: list[dict[str, Any]]) -> dict[str, Any]:
    from joelclaw.checks import system_health, tracked

    period = ctx.settings.health.notify_cooldown_minutes * 60
    out: dict[str, list[Any]] = {"notify": [], "tracked": [], "snoozed": []}
    for found in degraded:
        name = found["component"]
        task = tracked.matching(tasks, name, name.replace("_", " "))
        if task is not None:
            out["tracked"].append({"component": name, "task": task["content"]})
        elif ctx.snooze.snoozed(system_health.snooze_key(name)):
            out["snoozed"].append(name)
        elif ctx.cooldown.claim(f"health:degraded:{name}", period):
            out["notify"].append(found)
    return out


@function("check-system-health-signals-schedule", trigger=cron(lambda s: s.health.signals_cron))
def health_signals_schedule(ctx: Context[Any]) -> dict[str, Any]:
    """Hourly: the signals health check."""
    ctx.step.send_event("request-signals", {"name": "system/health.requested", "data": {
        "mode": "signals", "source": "signals-schedule"}})
    return {"requested": "signals"}


# ---- network status (#32) ---------------------------------------------------------------------

@function("network-status-update", trigger="system/network.update", retries=1, **ONE)
def network_status(ctx: Context[NetworkUpdate]) -> dict[str, Any]:
    """A snapshot of the nodes, beat, gateway, Typesense, queues and runs (stored, silent)."""
    snapshot = ctx.step.run("collect", ctx.checks.network)
    ctx.step.run("store", ctx.checks.store_network, snapshot)
    return {"status": snapshot["status"], "nodes": len(snapshot["nodes"]),
            "roles": snapshot["roles"]}
