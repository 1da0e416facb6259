"""Sending to Telegram: Markdown-ish text to Telegram HTML, split at 4096 characters, buttons on
the last chunk, and a plain-text resend when Telegram rejects the HTML."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from joelclaw.gateway.format import split_message, strip_html, to_telegram_html
from joelclaw.integrations.telegram import TelegramClient, TelegramParseError, inline_keyboard

if TYPE_CHECKING:
    from joelclaw.gateway.progress import Delivery

log = logging.getLogger("joelclaw.gateway.outbound")

Buttons = Sequence[Sequence[Sequence[str]]]  # rows of (label, callback_data)


def keyboard(buttons: Buttons | None) -> dict[str, Any] | None:
    if not buttons:
        return None
    return inline_keyboard([[(str(b[0]), str(b[1])) for b in row] for row in buttons])


def send_text(tg: TelegramClient, chat_id: int, text: str, *, buttons: Buttons | None = None,
              html: bool = True, progress: Delivery | None = None) -> list[int]:
    """Send `text` (Markdown-ish unless html=False); returns the Telegram message ids.

    With `progress`, the chunks it records as delivered are skipped and each newly accepted
    chunk is recorded at once (the split is deterministic, so a retry resumes where it broke).
    """
    body = to_telegram_html(text) if html else text
    chunks = (split_message(body) if html else _plain_chunks(body)) or [" "]
    markup = keyboard(buttons)
    sent = list(progress.sent) if progress is not None else []
    for i in range(len(sent), len(chunks)):
        last = i == len(chunks) - 1
        message_id = _send_chunk(tg, chat_id, chunks[i], markup if last else None,
                                 html)["message_id"]
        sent.append(message_id)
        if progress is not None:
            progress.delivered(i, message_id)
    return sent


def _send_chunk(tg: TelegramClient, chat_id: int, chunk: str, markup: dict[str, Any] | None,
                html: bool) -> dict[str, Any]:
    if not html:
        return tg.send_message(chat_id, chunk, parse_mode=None, reply_markup=markup)
    try:
        return tg.send_message(chat_id, chunk, parse_mode="HTML", reply_markup=markup)
    except TelegramParseError as exc:
        log.warning("Telegram rejected the HTML (%s); resending as plain text", exc.description)
        plain = strip_html(chunk).strip() or "(empty)"
        return tg.send_message(chat_id, plain, parse_mode=None, reply_markup=markup)


def _plain_chunks(text: str, limit: int = 4096) -> list[str]:
    return [text[i:i + limit] for i in range(0, len(text), limit)] or [" "]


class Typing:
    """Keeps "typing…" visible while a turn runs (Telegram shows it for ~5 s per call)."""

    def __init__(self, tg: TelegramClient | None, chat_id: int | None, every: float = 4.0):
        self.tg, self.chat_id, self.every = tg, chat_id, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gateway-typing", daemon=True)

    def __enter__(self) -> Typing:
        if self.tg is not None and self.chat_id is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _loop(self) -> None:
        tg, chat_id = self.tg, self.chat_id
        if tg is None or chat_id is None:  # __enter__ starts the loop only with both
            return
        while not self._stop.is_set():
            try:
                tg.send_chat_action(chat_id, "typing")
            except Exception as exc:  # a lost indicator must never break the turn
                log.debug("typing indicator failed: %s", exc)
            self._stop.wait(self.every)
