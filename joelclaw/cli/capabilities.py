"""`joelclaw capabilities` and the root command map: what the CLI can do, by goal, for a person
or an agent deciding what to run next; and the bare `joelclaw` overview (health, recent runs,
every command)."""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.app import Session, command, root_view
from joelclaw.cli.output import NextAction, Reply, action, fmt_age, status

FLOWS: list[dict[str, Any]] = [
    {"goal": "Check the system is healthy", "steps": [
        action("status", "Redis, workers, beat, wake-ups, runs by status"),
        action("gateway diagnose", "every layer of the Telegram gateway"),
        action("logs errors", "error lines of every process")]},
    {"goal": "Know when the whole system stops", "steps": [
        action("watchdog status", "what the dead-man's switch last saw"),
        action("watchdog check", "look now and message the owner if owed (cron)"),
        action("schedule", "crons with their catch-up, absence watches, wake-ups")]},
    {"goal": "Send an event and watch it run", "steps": [
        action("schema", "known event names"),
        action("schema <event>", "its payload JSON Schema"),
        action("send <event> -d '{...}' --follow", "send it and follow its runs")]},
    {"goal": "Find out why a run failed and fix it", "steps": [
        action("runs --status failed", "the failed runs"),
        action("run <id>", "its steps, errors and tracebacks"),
        action("logs worker", "the worker's log"),
        action("rerun <id>", "rerun from the failed step (earlier steps reused)")]},
    {"goal": "Understand why a run is not running", "steps": [
        action("explain <id>", "the limit, key, position in line, or deadline")]},
    {"goal": "Follow activity live", "steps": [
        action("watch", "runs as they start, step and finish (NDJSON when piped)"),
        action("logs --follow", "every process's log")]},
    {"goal": "Act on many runs", "steps": [
        action("cancel --function <id> --status queued", "cancel by filter"),
        action("replay --status failed --since 1h", "replay by filter")]},
    {"goal": "Look after the gateway", "steps": [
        action("gateway status", "heartbeat, mode, queue depth"),
        action("gateway events", "what is queued, by priority"),
        action("gateway test", "send a test message and wait for its delivery"),
        action("gateway restart", "restart the gateway worker (warm)")]},
    {"goal": "Search and curate memory", "steps": [
        action("recall <query>", "what memory observed, hybrid keyword + vector"),
        action("review list", "proposals waiting for a decision"),
        action("review approve <id>", "promote one into MEMORY.md"),
        action("cache stats", "hit and miss counts per cache tier")]},
    {"goal": "Answer the agents", "steps": [
        action("approvals list", "operations waiting for your approval"),
        action("approvals approve <id>", "approve one (--learn: always allow its category)"),
        action("approvals deny <id>", "deny one"),
        action("approvals categories", "what agents may do without asking"),
        action("approvals history", "what was approved or denied, by whom")]},
    {"goal": "Change a function's code while runs are in flight", "steps": [
        action("reload", "workers finish their step and restart on the new code"),
        action("up --reload", "in development: reload whenever a function module changes"),
        action("run <id>", "each step's code_version shows which code ran it")]},
    {"goal": "Test a prompt, model or code change against real runs without acting", "steps": [
        action("shadow --function <id> --since 7d", "replay on the current code, nothing sent"),
        action("shadow <run-id> --reask", "ask the model again and diff its answer"),
        action("cassettes --run <id>", "the recorded calls a shadow answers from")]},
    {"goal": "Watch telemetry and LLM spend", "steps": [
        action("otel list --failed", "recent failures (step errors, failed runs)"),
        action("otel search <query>", "telemetry events matching a text"),
        action("otel stats", "LLM spend per day and function, event counts"),
        action("search <query> [-c collection]", "every Typesense collection at once")]},
    {"goal": "Recover from an error code", "steps": [
        action("recover <CODE>", "diagnose, fix, verify, rollback")]},
    {"goal": "See it all in a browser", "steps": [
        action("up", "the web app serves the dashboard at http://127.0.0.1:3111/")]},
]


@command("capabilities")
def capabilities(session: Session) -> Reply:
    """Command flows by goal, for agents and people deciding what to run."""
    return Reply({"flows": FLOWS, "commands": command_map(click.get_current_context()
                                                           .find_root().command)},
                 _render, [action("recover", "runbooks by error code")])


def command_map(group: click.Command, prefix: str = "joelclaw") -> list[dict[str, str]]:
    """Every command, subcommands of groups included, with its one-line help."""
    if not isinstance(group, click.Group):
        return []
    load_all = getattr(group, "load_all", None)
    if load_all is not None:
        load_all()  # commands are imported when first asked for: here, all of them
    out = []
    for name, cmd in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            out.extend(command_map(cmd, path))
        else:
            out.append({"command": path, "description": cmd.get_short_help_str(80)})
    return out


def _render(result: dict[str, Any]) -> str:
    lines = []
    for flow in result["flows"]:
        lines.append(click.style(flow["goal"], bold=True))
        lines.extend(f"  {s['command']}  " + click.style(s["description"], dim=True)
                     for s in flow["steps"])
        lines.append("")
    return "\n".join(lines).rstrip()


@root_view
def root_overview(session: Session, group: click.Command) -> Reply:
    """Bare `joelclaw`: is it up, the latest runs, and the command map."""
    system: dict[str, Any]
    recent: list[dict[str, Any]] = []
    try:
        rt = session.runtime()
        rt.redis.ping()
        from joelclaw import health

        report = health.check(rt)  # the same rules as /health and `joelclaw status`
        system = {"ok": True, "status": report["status"],
                  "workers_alive": health.role_alive(report, health.WORKER),
                  "functions": len(rt.registry)}
        recent = [r.summary() for r in rt.runs.list(limit=5)]
    except Exception as exc:  # the map must print even when nothing runs
        failure = session.failure_for(exc)
        system = {"ok": False, "error": {"message": failure.message, "code": failure.code},
                  "fix": failure.fix}
    settings = session.settings
    result = {"system": system, "recent_runs": recent, "commands": command_map(group),
              "dashboard": f"http://{settings.web.host}:{settings.web.port}/"}
    return Reply(result, _render_root, _root_actions(system))


def _root_actions(system: dict[str, Any]) -> list[NextAction]:
    if not system["ok"]:
        return [action("up", "start the system"), action("recover "
                                                          f"{system['error']['code']}",
                                                          "the runbook for this error")]
    actions = [action("status", "is the system up?"), action("runs", "recent runs"),
               action("capabilities", "what the CLI can do, by goal")]
    if not system["workers_alive"]:
        actions.insert(0, action("up", "no worker is alive: start the system"))
    return actions


def _render_root(result: dict[str, Any]) -> str:
    system = result["system"]
    if system["ok"]:
        head = (f"{click.style('up', fg='green', bold=True)}: {system['workers_alive']} "
                f"worker(s) alive, {system['functions']} functions · dashboard "
                f"{result['dashboard']}")
    else:
        head = click.style(f"down: {system['error']['message']}", fg="red")
    lines = [head, ""]
    for run in result["recent_runs"]:
        lines.append(f"  {run['id']}  {run['function']}  {status(run['status'])}  "
                     f"{fmt_age(run['created_at'])}")
    if result["recent_runs"]:
        lines.append("")
    width = max(len(c["command"]) for c in result["commands"])
    lines.extend(f"{c['command'].ljust(width)}  " + click.style(c["description"], dim=True)
                 for c in result["commands"])
    return "\n".join(lines)
