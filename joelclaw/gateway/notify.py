"""`ctx.gateway.notify(...)` / `ctx.gateway.alert(...)`: how functions talk to the owner.

Each call is a durable step (memoized under a deterministic step id, with an idempotency key on
the queued message), so a replayed function never notifies twice. Triage decides the route:
suppressed (dropped, counted), batched (the hourly digest), or immediate (the priority queue).
Sleep mode holds everything except the owner's own messages and fatal alerts; it is flushed on
wake.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.execution import engine
from joelclaw.gateway import scripts
from joelclaw.gateway.format import to_telegram_html
from joelclaw.gateway.outbound import send_text
from joelclaw.gateway.progress import Delivery
from joelclaw.gateway.queue import P0, P1
from joelclaw.gateway.service import Gateway, request_drain
from joelclaw.integrations import charges
from joelclaw.integrations.telegram import TelegramError

if TYPE_CHECKING:
    from joelclaw.bus.execution import Context
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.gateway.notify")

SUPPRESSED = frozenset({"todoist.task.completed", "memory.observed", "content.synced",
                        "media.received", "progress"})
BATCHED = frozenset({"todoist.task.created", "todoist.task.deleted", "front.message.received",
                     "front.message.sent", "front.assignee.changed", "vercel.deploy.succeeded",
                     "vercel.deploy.created", "vercel.deploy.canceled", "discovery.captured",
                     "meeting.analyzed"})
TRIAGES = ("suppressed", "batched", "immediate")


def triage_for(event_type: str) -> str:
    normalized = event_type.replace("/", ".")
    if normalized in SUPPRESSED:
        return "suppressed"
    if normalized in BATCHED:
        return "batched"
    return "immediate"


def deliver(rt: Bus, text: str, *, type: str = "notice", priority: int | None = None,
            triage: str | None = None, buttons: list | None = None, agent: bool = False,
            immediate_telegram: bool = False, telegram_only: bool = False, fatal: bool = False,
            idem_key: str | None = None, chat: int | None = None) -> dict[str, Any]:
    """Route one notification (to `chat`, default the owner's); returns what happened (JSON,
    so it can be a step result)."""
    route = "immediate" if fatal else (triage or triage_for(type))
    if route not in TRIAGES:
        raise ValueError(f"triage must be one of {', '.join(TRIAGES)}, not {route!r}")
    gw = Gateway(rt)
    if route == "suppressed":
        rt.redis.hincrby(keys.GW_STATS, "suppressed", 1)
        return {"status": "suppressed", "type": type}
    # A message to a person (immediate) is one `notify` effect of the running function's
    # budget, however many Telegram messages it takes; a digest line is none. Over the budget,
    # the step waits here and nothing is sent.
    scope = charges.charged if route == "immediate" else charges.covered
    with scope(charges.NOTIFY):
        held = gw.sleeping() and not fatal
        sent = False
        if immediate_telegram and not held and gw.telegram is not None and gw.owner:
            # A retried step resumes after the chunks Telegram already accepted (kept for a day:
            # a replay after the send, before the step's memo was written, sends nothing again).
            progress = Delivery(rt.redis, f"direct:{idem_key}") if idem_key else None
            ids = send_text(gw.telegram, gw.owner, text, buttons=buttons, progress=progress)
            if telegram_only:
                return {"status": "sent", "message_ids": ids}
            sent = agent = True  # the queued copy is for the agent only
        if route == "batched":
            rt.redis.rpush(keys.GW_BATCH,
                           json.dumps({"type": type, "text": text, "at": time.time()}))
            return {"status": "batched", "type": type}
        meta = {"type": type, "buttons": buttons, "agent": agent, "fatal": fatal, "sent": sent}
        msg_id = gw.queue.enqueue("gateway", text, kind="notify",
                                  priority=P0 if fatal else priority, meta=meta,
                                  idem_key=idem_key, chat=chat)
        if msg_id is not None:
            request_drain(rt)
        return {"status": "queued" if msg_id else "duplicate", "id": msg_id, "held": held}


class Notifier:
    """The notifier: `ctx.gateway` is a `GatewayContext` (joelclaw.gateway.context) built on it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._counts: Counter[str] = Counter()  # one Notifier per execution (ctx caches it)

    def notify(self, text: str, *, type: str = "notice", priority: int | None = None,
               triage: str | None = None, buttons: list | None = None, agent: bool = False,
               immediate_telegram: bool = False, telegram_only: bool = False,
               chat: int | None = None, step_id: str = "gateway-notify") -> dict[str, Any]:
        """Queue a message for the owner (or the agent, with agent=True) as a durable step;
        `chat` sends it to another chat than the owner's (e.g. where a request came from)."""
        return self._step(step_id, text, type=type, priority=priority, triage=triage,
                          buttons=buttons, agent=agent, immediate_telegram=immediate_telegram,
                          telegram_only=telegram_only, chat=chat)

    def alert(self, text: str, *, type: str = "alert", fatal: bool = False,
              buttons: list | None = None, immediate_telegram: bool | None = None,
              telegram_only: bool = False, step_id: str = "gateway-alert") -> dict[str, Any]:
        """A failure the owner must see: P1 (P0 and straight to Telegram when fatal)."""
        direct = fatal if immediate_telegram is None else immediate_telegram
        return self._step(step_id, f"🚨 {text}", type=type, priority=P1, triage="immediate",
                          buttons=buttons, immediate_telegram=direct,
                          telegram_only=telegram_only, fatal=fatal)

    def send_file(self, path: str, *, caption: str | None = None, photo: bool = False,
                  step_id: str = "gateway-send-file") -> dict[str, Any]:
        """Send a local file to the owner now (a photo falls back to a document), once."""
        return self.ctx.step.run(step_id, send_file, engine(self.ctx), path, caption, photo)

    def _step(self, step_id: str, text: str, **options: Any) -> dict[str, Any]:
        self._counts[step_id] += 1
        idem = f"{self.ctx.run_id}:{step_id}:{self._counts[step_id]}"
        return self.ctx.step.run(step_id, lambda: deliver(engine(self.ctx), text,
                                                          idem_key=idem, **options))


def send_file(rt: Bus, path: str, caption: str | None = None,
              photo: bool = False) -> dict[str, Any]:
    """sendPhoto or sendDocument to the owner; Telegram refusing a photo gets the document."""
    gw = Gateway(rt)
    if gw.telegram is None or gw.owner is None:
        raise ValueError("sending a file needs JOELCLAW_TELEGRAM_TOKEN and _OWNER_ID")
    html = to_telegram_html(caption) if caption else None
    if photo:
        try:
            sent = gw.telegram.send_photo(gw.owner, Path(path), html)
            return {"status": "sent", "message_id": sent["message_id"], "as": "photo"}
        except TelegramError as exc:
            log.info("sendPhoto refused (%s); sending as a document", exc.description)
    sent = gw.telegram.send_document(gw.owner, Path(path), html)
    return {"status": "sent", "message_id": sent["message_id"], "as": "document"}


def flush_digest(rt: Bus, *, title: str = "📋 Batch digest") -> dict[str, Any]:
    """Turn the batched notifications into one message (read-and-remove is one script)."""
    take = rt.redis.register_script(scripts.TAKE_LIST)
    items = [json.loads(raw) for raw in take(keys=[keys.GW_BATCH], args=[5000])]
    if not items:
        return {"flushed": 0}
    counts = Counter(item["type"] for item in items)
    lines = [f"**{title}** — {len(items)} event(s)", ""]
    lines += [f"- {event_type}: {n}" for event_type, n in counts.most_common()]
    lines += ["", *(f"- {_first_line(item['text'])}" for item in items[-10:])]
    gw = Gateway(rt)
    gw.queue.enqueue("gateway", "\n".join(lines), kind="notify", priority=2,
                     meta={"type": "gateway.digest", "digestTypes": dict(counts)}, dedup=False)
    request_drain(rt)
    return {"flushed": len(items), "types": dict(counts)}


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:160]
