"""`joelclaw gateway status|push|drain`: look at, feed and kick the owner's message queue."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from joelclaw.cli.app import Handler, Session, cli, command
from joelclaw.cli.output import Reply, action


@cli.group("gateway")
def gateway() -> None:
    """The Telegram gateway: queue depth, heartbeat, agent, mode."""


def _sub(name: str) -> Callable[[Handler], click.Command]:
    """Like `app.command`, but registered under `joelclaw gateway`."""
    return command(name, group=gateway)


def _render_status(result: dict[str, Any]) -> str:
    age = result["heartbeat_age_s"]
    lines = [f"gateway: {'alive' if result['alive'] else 'NOT RUNNING'} "
             f"(heartbeat {'never' if age is None else f'{age} s ago'})",
             f"mode: {result['mode']}   agent: {result['agent']} "
             f"(failures in a row {result['agent_failures']})",
             "queue: " + "  ".join(f"{k}={v}" for k, v in result["queue"].items())]
    if result.get("stats"):
        lines.append("stats: " + "  ".join(f"{k}={v}" for k, v in result["stats"].items()))
    return "\n".join(lines)


@_sub("status")
def status(session: Session) -> Reply:
    """Heartbeat, mode, agent and queue depth by priority."""
    from joelclaw.gateway.commands import health_report
    from joelclaw.gateway.service import Gateway
    from joelclaw.health import gateway_alive

    rt = session.runtime()
    report = health_report(Gateway(rt))
    report["alive"] = gateway_alive(rt.settings, report["heartbeat_age_s"])
    actions = [action("gateway drain", "request a drain of the queue")]
    if not report["alive"]:
        actions.insert(0, action("up", "start the system, gateway worker included"))
    return Reply(report, _render_status, actions)


@_sub("push")
@click.argument("text")
@click.option("--type", "event_type", default="cli.push", show_default=True,
              help="Notification type (drives triage: suppressed / batched / immediate).")
@click.option("--priority", type=click.IntRange(0, 3), default=None,
              help="0 (highest) to 3; default: classified from the type.")
@click.option("--agent", is_flag=True, help="Give it to the agent instead of the owner.")
def push(session: Session, text: str, event_type: str, priority: int | None,
         agent: bool) -> Reply:
    """Queue a message for the owner, as a function's ctx.gateway.notify would."""
    from joelclaw.gateway.notify import deliver

    result = deliver(session.runtime(), text, type=event_type, priority=priority, agent=agent)
    return Reply(result, lambda r: f"{r['status']} {r.get('id') or ''}".strip(),
                 [action("gateway status", "queue depth and heartbeat")])


@_sub("drain")
def drain(session: Session) -> Reply:
    """Ask the gateway worker to deliver what is queued now."""
    from joelclaw.gateway.service import Gateway, request_drain

    rt = session.runtime()
    request_drain(rt, force=True)
    result = {"requested": True, "queue": Gateway(rt).queue.depth()}
    return Reply(result, lambda r: "drain requested; queue: " + "  ".join(
        f"{k}={v}" for k, v in r["queue"].items()), [action("gateway status", "watch it")])
