"""`joelclaw gateway status|push|drain|clock`: look at, feed and kick the owner's message queue,
and move its clock to check the time rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from joelclaw.cli.app import DURATION, Handler, Session, cli, command
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


@_sub("clock")
@click.option("--advance", type=DURATION, default=None,
              help="Run the gateway's clock this far ahead of real time, e.g. 6m (replaces "
                   "any offset set before).")
@click.option("--reset", is_flag=True, help="Back to real time.")
@click.option("--keep", type=DURATION, default=None,
              help="How long the offset stays before it clears itself (default 1h).")
def clock(session: Session, advance: float | None, reset: bool, keep: float | None) -> Reply:
    """The gateway queue's clock. Its time rules (a P2 waiting 5 min counts as P1, a P3 is
    auto-acknowledged after 60 s, a crashed claim is replayed only within 10 min) can be
    checked by moving it ahead: push a message, `gateway clock --advance 6m`, then watch
    `gateway status` and the dashboard's gateway page."""
    import time

    from joelclaw import keys
    from joelclaw.gateway.clock import read_offset, set_offset

    if reset and advance is not None:
        raise click.UsageError("give --advance or --reset, not both")
    rt = session.runtime()
    if reset:
        set_offset(rt.redis, 0)
    elif advance is not None:
        set_offset(rt.redis, advance, keep if keep is not None else keys.CLOCK_OFFSET_TTL)
    offset, left = read_offset(rt.redis)
    now = time.time()
    result = {"offset_s": offset, "clears_in_s": left, "real_time": now,
              "gateway_time": now + offset}
    return Reply(result, _render_clock, [action("gateway status", "the queue by priority"),
                                         action("gateway clock --reset", "back to real time")])


def _render_clock(result: dict[str, Any]) -> str:
    from joelclaw.cli.output import fmt_seconds, fmt_time

    if not result["offset_s"]:
        return f"gateway clock: real time ({fmt_time(result['real_time'])})"
    return (f"gateway clock: {fmt_time(result['gateway_time'])}, "
            f"{fmt_seconds(result['offset_s'])} ahead of real time; clears itself in "
            f"{fmt_seconds(result['clears_in_s'] or 0)}")
