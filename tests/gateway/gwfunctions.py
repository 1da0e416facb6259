"""Functions the gateway tests trigger: they talk to the owner through `ctx.gateway`."""

from __future__ import annotations

from joelclaw.bus.execution import Context
from joelclaw.bus.functions import function


@function("t-gw-notify", trigger="test/gw.notify", retries=2)
def notify_twice_over_replays(ctx: Context) -> dict:
    """Notifies, then fails once: the replay must not notify again (memoized)."""
    d = ctx.event.data
    sent = ctx.gateway.notify(d["text"], type=d.get("type", "notice"), buttons=d.get("buttons"),
                              triage=d.get("triage"))
    if d.get("fail_once") and ctx.attempt == 0:
        raise RuntimeError("fail after notifying")
    return sent


@function("t-gw-alert", trigger="test/gw.alert")
def alert(ctx: Context) -> dict:
    d = ctx.event.data
    return ctx.gateway.alert(d["text"], fatal=d.get("fatal", False))


@function("t-gw-file", trigger="test/gw.file")
def send_file(ctx: Context) -> dict:
    d = ctx.event.data
    return ctx.gateway.send_file(d["path"], caption=d.get("caption"), photo=d.get("photo", False))
