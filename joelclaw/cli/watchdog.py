"""`joelclaw watchdog run|check|status`: the dead-man's switch (joelclaw/deadman.py), in the
foreground, once (for cron on a second machine), or what it last saw."""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.app import Session, cli, command
from joelclaw.cli.output import Failure, Reply, action


@cli.group("watchdog")
def watchdog() -> None:
    """The dead-man's switch: tells the owner on Telegram when the whole system is silent."""


def _render(result: dict[str, Any]) -> str:
    from joelclaw.durations import humane

    lines = [f"watchdog: {result['status']}   (checked "
             + ("never" if result["checked_ago_s"] is None
                else f"{humane.duration(result['checked_ago_s'])} ago") + ")"]
    if result.get("silent_since"):
        lines.append(f"silent since: {humane.moment(result['silent_since'])}")
    if result.get("last_beat"):
        lines.append(f"last heartbeat: {humane.moment(result['last_beat'])}")
    if result.get("reasons"):
        lines.append("why: " + "; ".join(result["reasons"]))
    if result.get("last_error"):
        lines.append(f"could not message the owner: {result['last_error']}")
    lines.append(f"watches: {', '.join(result['sources']) or 'nothing yet'}; tells the owner "
                 f"after {humane.duration(result['silence_seconds'])} of silence; "
                 f"messages sent: {result['alerts']}")
    lines.append(f"state: {result['state_file']}")
    return "\n".join(lines)


@command("status", group=watchdog)
def status(session: Session) -> Reply:
    """What the watcher last saw, from its state file (no Redis needed)."""
    from joelclaw.deadman import State, describe, state_path

    settings = session.settings
    result = describe(State.load(state_path(settings)), settings)
    return Reply(result, _render, [action("watchdog check", "look now, and message if owed")])


@command("check", group=watchdog)
def check(session: Session) -> Reply:
    """Look once and message the owner if a silence or a recovery is owed (for cron)."""
    from joelclaw.deadman import describe, watcher_for
    from joelclaw.errors import ConfigError

    settings = session.settings
    try:
        watcher = watcher_for(settings)
    except ConfigError as exc:
        raise Failure(str(exc), "WATCHDOG_NOT_CONFIGURED",
                      "set the variables named, then run it again", exit_code=2) from None
    try:
        state = watcher.check()
    finally:
        watcher.close()
    return Reply(describe(state, settings), _render, [action("watchdog status", "the same")])


@watchdog.command("run")
@click.pass_context
def run(ctx: click.Context) -> None:
    """Watch in the foreground until Ctrl-C (what `joelclaw up` starts as `watchdog`)."""
    from joelclaw.config import load_settings
    from joelclaw.deadman import run_forever
    from joelclaw.errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:
        click.echo(f"joelclaw watchdog: {exc}", err=True)
        ctx.exit(2)
    ctx.exit(run_forever(settings))
