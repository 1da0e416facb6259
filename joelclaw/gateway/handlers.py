"""What the drain does with each kind of claimed message: owner text (agent turn), a command,
a button press, media, or a notification from a function."""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from joelclaw.events.model import Event
from joelclaw.events.payloads.telegram import callback_fields, forwarded_from, media_of
from joelclaw.gateway import commands, vaultread
from joelclaw.gateway.agent import agent_kind, run_turn
from joelclaw.gateway.outbound import Typing, send_text
from joelclaw.gateway.progress import Delivery
from joelclaw.gateway.queue import Message
from joelclaw.gateway.service import Gateway
from joelclaw.integrations.http import IntegrationError
from joelclaw.integrations.telegram import TelegramError

log = logging.getLogger("joelclaw.gateway.handlers")

def handle(gw: Gateway, batch: list[Message]) -> None:
    HANDLERS.get(batch[0].kind, _notify)(gw, batch)


def _reply(gw: Gateway, chat: int, text: str, buttons: Any = None,
           progress: Delivery | None = None) -> None:
    if gw.telegram is None:
        log.warning("no JOELCLAW_TELEGRAM_TOKEN: dropping a reply to %s", chat)
        return
    send_text(gw.telegram, chat, text, buttons=buttons, progress=progress)


def _delivery(gw: Gateway, msg: Message) -> Delivery:
    """What was already done for this message: its stored reply and delivered chunks."""
    return Delivery(gw.rt.redis, msg.id)


def _turn(gw: Gateway, chat: int, prompt: str) -> Callable[[], str]:
    def run() -> str:
        with Typing(gw.telegram, chat):
            return run_turn(gw, chat, prompt).text

    return run


def _chat(gw: Gateway, msg: Message) -> int:
    return int(msg.chat or gw.owner or 0)


def _text(gw: Gateway, batch: list[Message]) -> None:
    """Rapid messages were merged into this batch: one prompt, one turn, one reply."""
    chat = _chat(gw, batch[0])
    prompt = vaultread.enrich(gw.settings, "\n".join(m.prompt for m in batch if m.prompt))
    progress = _delivery(gw, batch[0])  # a retry sends the stored answer: no second turn
    text = progress.answer(_turn(gw, chat, prompt), [m.id for m in batch])
    _reply(gw, chat, text, progress=progress)


def _command(gw: Gateway, batch: list[Message]) -> None:
    for msg in batch:
        progress = _delivery(gw, msg)  # e.g. /sleep or /send runs once, however often sent
        text = progress.answer(partial(commands.run, gw, msg.prompt), [msg.id])
        _reply(gw, _chat(gw, msg), text, progress=progress)


def _notify(gw: Gateway, batch: list[Message]) -> None:
    """Straight to the owner, or through the agent when asked and one is configured."""
    for msg in batch:
        chat = _chat(gw, msg)
        agent = msg.meta.get("agent") and agent_kind(gw) != "none"
        if msg.meta.get("sent") and not agent:
            continue  # already sent straight to Telegram; nothing for an agent to do
        progress = _delivery(gw, msg)
        text = progress.answer(_turn(gw, chat, msg.prompt), [msg.id]) if agent else msg.prompt
        _reply(gw, chat, text, msg.meta.get("buttons"), progress)


# -- callbacks ------------------------------------------------------------------------------

def callback_label(data: str) -> str:
    """The outcome appended to the message once its button was pressed."""
    action, _, rest = data.partition(":")
    if action == "memory":
        verb = rest.split(":", 1)[0]
        return {"approve": "✅ Approved", "reject": "❌ Rejected"}.get(verb, f"✔️ {verb}")
    if action == "apr":  # agent approvals: apr:<request id>:<approve|deny|learn>
        verb = rest.rpartition(":")[2]
        return {"approve": "✅ Approved", "deny": "❌ Denied",
                "learn": "🧠 Approved, category learned"}.get(verb, f"✔️ {verb}")
    if action == "bgt":  # effect budgets: bgt:<ask id>:<once|day|stop>
        verb = rest.rpartition(":")[2]
        return {"once": "▶️ Allowed once", "day": "📅 Allowed for today",
                "stop": "⏹ Stopped"}.get(verb, f"✔️ {verb}")
    if action in ("snooze", "s4h"):
        return "⏰ Snoozed for 4h"
    if action == "cmd":
        return f"▶️ /{rest.split(':', 1)[0]}"
    return "✔️ Received"


def _callback(gw: Gateway, batch: list[Message]) -> None:
    for msg in batch:
        _one_callback(gw, msg)


def _one_callback(gw: Gateway, msg: Message) -> None:
    query: dict[str, Any] = msg.meta["query"]
    data = str(query.get("data") or "")
    label = callback_label(data)
    message = query.get("message") or {}
    chat, message_id = (message.get("chat") or {}).get("id"), message.get("message_id")
    tg = gw.telegram
    if tg is not None:
        _quietly(tg.answer_callback_query, query["id"], label)
        # A snooze press is edited once, by the function that snoozes (it says until when).
        if chat is not None and message_id is not None and not _edited_by_function(data):
            _edit_done(gw, int(chat), int(message_id), str(message.get("text") or ""), label)
    fields = callback_fields(msg.meta["update_id"], {**query, "id": str(query["id"])})
    gw.rt.send(Event(name="telegram/callback.received", id=f"telegram-{msg.meta['update_id']}",
                     source={"via": "gateway", "provider": "telegram-polling"}, data=fields))
    action, context = fields["action"], fields["context"]
    if action == "cmd" and chat is not None:
        progress = _delivery(gw, msg)
        text = progress.answer(lambda: commands.run(gw, "/" + context.replace(":", " ", 1)),
                               [msg.id])
        _reply(gw, int(chat), text, progress=progress)


def _edited_by_function(data: str) -> bool:
    """`s4h:<key>`: `telegram-callback-received` snoozes and edits the message itself."""
    return data.partition(":")[0] == "s4h"


def _edit_done(gw: Gateway, chat: int, message_id: int, text: str, label: str) -> None:
    """Remove the keyboard and append the outcome; fall back to only removing the keyboard."""
    tg = gw.telegram
    assert tg is not None
    if not text:  # webhook mode does not carry the text: only remove the keyboard
        _quietly(tg.edit_message_reply_markup, chat, message_id, None)
        return
    try:
        tg.edit_message_text(chat, message_id, f"{text}\n\n{label}".strip(), parse_mode=None)
    except TelegramError as exc:
        log.info("could not edit message %s (%s); removing its keyboard", message_id, exc)
        _quietly(tg.edit_message_reply_markup, chat, message_id, None)


def _quietly(call: Callable[..., Any], *args: Any) -> None:
    try:
        call(*args)
    except TelegramError as exc:  # e.g. "query is too old": the outcome still counts
        log.info("%s failed: %s", getattr(call, "__name__", "telegram call"), exc)


# -- media ----------------------------------------------------------------------------------

def _media(gw: Gateway, batch: list[Message]) -> None:
    """Download and announce each file as `media/received`; `media-process` transcribes or
    describes it and hands the text to the agent as the owner's message (one turn, one reply).
    Only a file that cannot be fetched is answered here."""
    for msg in batch:
        try:
            _download(gw, msg)
        except IntegrationError as exc:  # e.g. "file is too big": tell the owner, do not retry
            chat, progress = _chat(gw, msg), _delivery(gw, msg)
            text = progress.answer(partial(str, f"[media unavailable: {exc}]"), [msg.id])
            _reply(gw, chat, text, progress=progress)


def _download(gw: Gateway, msg: Message) -> str:
    """Fetch the file under JOELCLAW_HOME and announce it as `media/received` (once)."""
    tg = gw.telegram
    if tg is None:
        raise IntegrationError("telegram", "no JOELCLAW_TELEGRAM_TOKEN: cannot fetch the file")
    message = msg.meta["message"]
    kind, ref = media_of(message)
    chat, message_id = message["chat"]["id"], message["message_id"]
    info = tg.get_file(ref["file_id"])
    name = safe_file_name(ref.get("file_name") or Path(info["file_path"]).name)
    folder = gw.settings.home_dir / "media" / "telegram"
    dest = folder / f"{chat}-{message_id}-{name}"
    if not dest.resolve().is_relative_to(folder.resolve()):  # belt and braces: never outside
        raise IntegrationError("telegram", f"refusing to write {name!r} outside {folder}")
    tg.download_file(info["file_path"], dest)
    gw.rt.send(Event(
        name="media/received", id=f"media-telegram-{chat}-{message_id}",
        source={"via": "gateway"},
        data={"source": "telegram", "path": str(dest), "media_type": kind,
              "mime_type": ref.get("mime_type") or mimetypes.guess_type(name)[0],
              "file_name": name, "file_size": info.get("file_size") or ref.get("file_size"),
              "media_id": ref.get("file_unique_id") or f"telegram-{chat}-{message_id}",
              "chat_id": chat, "message_id": message_id, "caption": msg.prompt or None,
              "forwarded_from": forwarded_from(message),
              "metadata": {k: ref[k] for k in ("duration", "width", "height", "file_id")
                           if k in ref}}))
    return str(dest)


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")


def safe_file_name(name: str) -> str:
    """A sender's file name (a forwarded one is a stranger's) as one plain name: no folders,
    no `..`, no hidden file, at most 100 characters."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .")[:100]
    return cleaned or "file"


HANDLERS: dict[str, Callable[[Gateway, list[Message]], None]] = {
    "text": _text, "command": _command, "notify": _notify, "callback": _callback,
    "media": _media,
}
