"""`schedule`, `queues` and `up`: when things fire, what waits in the broker, run everything."""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli import render
from joelclaw.cli.app import JSON_KEY, TEXT_KEY, Session, cli, command
from joelclaw.cli.output import Output, Reply, action, wants_json

NEXT_WAKEUPS = 5


# ---- schedule -----------------------------------------------------------------------------

@command("schedule", reads=True)
@click.option("--next", "next_count", type=click.IntRange(0, 100), default=NEXT_WAKEUPS,
              show_default=True, help="How many of the next durable wake-ups to list.")
def schedule(session: Session, next_count: int) -> Reply:
    """Every cron entry with its next fire time, every absence watch with its deadline, and the
    durable wake-ups due next."""
    from joelclaw.bus.flow import absence
    from joelclaw.insight.schedule import crons, wakeups

    rt = session.runtime()
    result: dict[str, Any] = {"crons": crons(rt), "absences": absence.watches(rt),
                              "wakeups": wakeups(rt, next_count)}
    actions = [action(f"runs --function {c['function']}", "recent runs of this cron function")
               for c in result["crons"][:2]]
    return Reply(result, render.render_schedule, actions)


# ---- queues -------------------------------------------------------------------------------

@command("queues", reads=True)
def queues(session: Session) -> Reply:
    """Messages waiting per Celery queue and priority, and unacknowledged ones (Redis)."""
    from joelclaw.bus.celery import queues as broker_queues
    from joelclaw.runtime import redact_url

    rt = session.runtime()
    result = {"broker": redact_url(rt.broker_url), **broker_queues.depths(rt)}
    return Reply(result, render.render_queues, [action("status", "workers, beat and runs")])


# ---- up -----------------------------------------------------------------------------------

@cli.command("up")
@click.option("--no-flower", is_flag=True, help="Do not start Flower.")
@click.option("--no-beat", is_flag=True, help="Do not start beat (no cron).")
@click.option("--no-gateway", is_flag=True, help="Do not start the gateway worker.")
@click.option("--no-web", is_flag=True, help="Do not start the web server.")
@click.option("--no-typesense", is_flag=True,
              help="Do not start the embedded Typesense (memory is off without a server).")
@click.option("--no-watchdog", is_flag=True, help="Do not start the dead-man's switch.")
@click.option("--reload", "reload", is_flag=True,
              help="Development: run `joelclaw reload` whenever a function module changes.")
@click.option("--json", "as_json", is_flag=True, help="Errors before start as a JSON envelope.")
@click.option("--text", "as_text", is_flag=True, help="Errors before start as text.")
@click.pass_context
def up(ctx: click.Context, no_flower: bool, no_beat: bool, no_gateway: bool, no_web: bool,
       no_typesense: bool, no_watchdog: bool, reload: bool, as_json: bool,
       as_text: bool) -> None:
    """Run the whole system in the foreground, restarting what dies, until Ctrl-C.

    Its output is the processes' log stream, not an envelope; the exit status is up's own.
    """
    json_mode = wants_json(as_json or ctx.meta.get(JSON_KEY, False),
                           as_text or ctx.meta.get(TEXT_KEY, False))
    session = Session(Output(ctx.command_path, json_mode))
    try:
        from joelclaw.supervisor import up as run_up

        code = run_up(session.settings, flower=not no_flower, beat=not no_beat,
                      gateway=not no_gateway, web=not no_web, typesense=not no_typesense,
                      reload=reload, watchdog=not no_watchdog)
    except Exception as exc:
        code = session.out.failure(session.failure_for(exc))
    ctx.exit(code)
