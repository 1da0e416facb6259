"""Gateway functions: the hourly digest, the heartbeat check, and webhook-mode Telegram intake.

The drain itself is a plain Celery task the gateway installs (joelclaw.gateway.plugin), and its
poller and watchdog run in the gateway worker's bootstep: importing this module starts nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw import Context, cron, function, trigger
from joelclaw.gateway import worker_queue

if TYPE_CHECKING:
    from joelclaw.events.payloads.telegram import CallbackReceived, MessageReceived

HEALTH_ALERT_COOLDOWN = 3600


@function("gateway-digest", triggers=[cron("0 * * * *"), "gateway/digest.requested"])
def gateway_digest(ctx: Context) -> dict[str, Any]:
    """Flush batched notifications as one digest, except in sleep mode (held until /wake)."""
    if ctx.gateway.sleeping():
        return {"flushed": 0, "sleeping": True}
    return ctx.step.run("flush", ctx.gateway.flush_digest)


@function("gateway-health-check", triggers=[cron("*/5 * * * *"), "gateway/health.check"])
def gateway_health_check(ctx: Context) -> dict[str, Any]:
    """Alert the owner when the gateway heartbeat is stale (never in sleep mode: no false
    alarms). The alert goes straight to Telegram, since the gateway itself is what is down.

    A stale heartbeat is looked at again after a grace (`JOELCLAW_GATEWAY_HEARTBEAT_GRACE_
    SECONDS`) before anyone is told: a gateway that is starting (a first `up`, a restart after
    downtime, a machine waking from sleep, when beat fires the missed tick at once) beats
    within seconds of its start, so only one still silent after the grace is news."""
    if not ctx.settings.telegram.token or ctx.gateway.sleeping():
        return {"checked": False}
    beat = ctx.step.run("look", ctx.gateway.heartbeat)
    grace = ctx.settings.gateway.heartbeat_grace_seconds
    if beat["stale"] and grace > 0:
        ctx.step.sleep("grace", grace)
        beat = ctx.step.run("look-again", ctx.gateway.heartbeat)
    age, stale = beat["age_s"], beat["stale"]
    if stale and ctx.step.run("alert-cooldown", ctx.gateway.claim_stale_alert,
                              HEALTH_ALERT_COOLDOWN):
        shown = f"{age:.0f} s ago" if age is not None else "never"
        ctx.gateway.alert(f"Gateway heartbeat is stale (last beat {shown}). Is the gateway "
                          "worker running? `joelclaw gateway status`", type="gateway.stale",
                          immediate_telegram=True)
    return {"checked": True, "age_s": age, "stale": stale}


@function("gateway-telegram-webhook", trigger="telegram/message.received",
          queue=worker_queue.QUEUE)
def gateway_telegram_webhook(ctx: Context[MessageReceived]) -> dict[str, Any]:
    """Webhook mode: the webhook route emits the message; queue it like a polled update."""
    d = ctx.event.data
    message = {"message_id": d.message_id, "chat": {"id": d.chat_id},
               "from": {"id": d.from_id, "username": d.from_username},
               "text": d.text, "caption": d.caption}
    return {"queued": ctx.gateway.accept_update({"update_id": d.update_id, "message": message})}


@function("gateway-telegram-webhook-callback", queue=worker_queue.QUEUE,
          trigger=trigger("telegram/callback.received", if_='event.source.provider == "telegram"'))
def gateway_telegram_webhook_callback(ctx: Context[CallbackReceived]) -> dict[str, Any]:
    """Webhook mode: a button press from the webhook route is answered like a polled one (the
    gateway's own re-emission carries another provider, and the same event id, so no loop)."""
    d = ctx.event.data
    query = {"id": d.callback_query_id, "data": d.raw_data,
             "from": {"id": d.from_id, "username": d.from_username},
             "message": {"message_id": d.message_id, "chat": {"id": d.chat_id}}}
    return {"queued": ctx.gateway.accept_update({"update_id": d.update_id,
                                                 "callback_query": query})}
