"""Telegram Bot API client. Every method returns the `result` of the Bot API answer; a
`{"ok": false}` answer raises a TelegramError (the tree is in `telegram_api`).

A 429 is retried after `parameters.retry_after` seconds (bounded by the retry policy). Sends to
one chat are spaced by `min_interval_per_chat`, because Telegram throttles bursts into a chat.
The token only ever appears in request URLs: reprs, errors and httpx's log line leave it out.
"""

from __future__ import annotations

import json
import mimetypes
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw.integrations import charges
from joelclaw.integrations.http import (
    IntegrationError,
    RetryPolicy,
    Sleep,
    make_client,
)
from joelclaw.integrations.telegram_api import (
    CALLBACK_DATA_MAX_BYTES,
    LONG_POLL_SLACK,
    PACED,
    SAFE_TO_REPEAT,
    SENDS,
    SERVICE,
    ChatPacer,
    TelegramAuthError,
    TelegramError,
    TelegramNotFound,
    TelegramParseError,
    TelegramRateLimited,
    _BotApi,
    _parse_answer,
    inline_keyboard,
    telegram_error,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "CALLBACK_DATA_MAX_BYTES",
    "ChatPacer",
    "TelegramAuthError",
    "TelegramClient",
    "TelegramError",
    "TelegramNotFound",
    "TelegramParseError",
    "TelegramRateLimited",
    "inline_keyboard",
]

class TelegramClient:
    """A synchronous Bot API client with retries, 429 handling and per-chat pacing."""

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.telegram.org",
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Sleep = time.sleep,
        min_interval_per_chat: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = 10.0,
        max_attempts: int = 3,
        policy: RetryPolicy | None = None,
    ) -> None:
        if not token or "/" in token:
            raise ValueError("a Telegram bot token is required (and has no '/')")
        self._token = token
        policy = policy or RetryPolicy(max_attempts=max_attempts, base_delay=0.4)
        self._timeout = timeout
        self._api = _BotApi(
            make_client(base_url, timeout=timeout, transport=transport),
            service=SERVICE,
            policy=policy,
            sleep=sleep,
            secrets=(token,),
        )
        self.pacer = ChatPacer(min_interval_per_chat, clock=clock, sleep=sleep)

    def __repr__(self) -> str:
        return f"TelegramClient(base_url={str(self._api.client.base_url)!r})"

    def __enter__(self) -> TelegramClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._api.close()

    # -- receiving ---------------------------------------------------------------------------

    def get_updates(
        self,
        offset: int | None = None,
        timeout: int = 0,
        allowed_updates: Sequence[str] | None = None,
        *,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Long-poll for updates; pass offset = last update_id + 1 to confirm the ones seen."""
        params = {
            "offset": offset,
            "timeout": timeout,
            "limit": limit,
            "allowed_updates": list(allowed_updates) if allowed_updates is not None else None,
        }
        import httpx

        read_timeout = httpx.Timeout(self._timeout, read=timeout + LONG_POLL_SLACK)
        return self.call("getUpdates", params, http_timeout=read_timeout)

    def get_file(self, file_id: str) -> dict[str, Any]:
        """File metadata; its `file_path` feeds `download_file` (valid for about an hour)."""
        return self.call("getFile", {"file_id": file_id})

    def download_file(self, file_path: str, dest: Path) -> Path:
        """Download a file from getFile into `dest` (a directory keeps the Telegram file name)."""
        dest = Path(dest)
        if dest.is_dir():
            dest = dest / Path(file_path).name
        response = self._api.request("GET", f"/file/bot{self._token}/{file_path}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        with os.fdopen(fd, "wb") as fh:
            fh.write(response.content)
        os.replace(tmp, dest)  # never leave a half-written file under the final name
        return dest

    # -- sending -----------------------------------------------------------------------------

    def send_message(
        self,
        chat_id: int | str,
        text: str,
        parse_mode: str | None = "HTML",
        reply_markup: dict[str, Any] | None = None,
        reply_to_message_id: int | None = None,
        *,
        disable_notification: bool | None = None,
    ) -> dict[str, Any]:
        """Send a text message; a TelegramParseError means: resend with parse_mode=None."""
        params = {
            "chat_id": chat_id,
            "text": text,
            "parse_mode": parse_mode,
            "reply_markup": reply_markup,
            "reply_parameters": _reply_to(reply_to_message_id),
            "disable_notification": disable_notification,
        }
        return self.call("sendMessage", params, chat_id=chat_id)

    def edit_message_text(
        self,
        chat_id: int | str,
        message_id: int,
        text: str,
        parse_mode: str | None = "HTML",
        reply_markup: dict[str, Any] | None = None,
    ) -> dict[str, Any] | bool:
        """Replace a message's text (and keyboard: omitting reply_markup removes it)."""
        params = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": parse_mode,
            "reply_markup": reply_markup,
        }
        return self.call("editMessageText", params, chat_id=chat_id)

    def edit_message_reply_markup(
        self, chat_id: int | str, message_id: int, reply_markup: dict[str, Any] | None = None
    ) -> dict[str, Any] | bool:
        """Replace a message's inline keyboard; None removes it (e.g. after a button press)."""
        params = {"chat_id": chat_id, "message_id": message_id, "reply_markup": reply_markup}
        return self.call("editMessageReplyMarkup", params, chat_id=chat_id)

    def answer_callback_query(
        self,
        callback_query_id: str,
        text: str | None = None,
        show_alert: bool = False,
    ) -> bool:
        """Stop the button's spinner; optional toast (or alert) text for the user."""
        params = {
            "callback_query_id": callback_query_id,
            "text": text,
            "show_alert": show_alert or None,
        }
        return self.call("answerCallbackQuery", params)

    def send_chat_action(self, chat_id: int | str, action: str = "typing") -> bool:
        """Show "typing…" (or another action) for about 5 seconds."""
        return self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    def set_my_commands(self, commands: Sequence[tuple[str, str]]) -> bool:
        """Register the command menu; a leading '/' on a command is dropped."""
        items = [{"command": c.lstrip("/"), "description": d} for c, d in commands]
        return self.call("setMyCommands", {"commands": items})

    def send_document(
        self,
        chat_id: int | str,
        path: Path,
        caption: str | None = None,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Upload a local file as a document."""
        return self._send_file(
            "sendDocument", "document", chat_id, path, caption, parse_mode, reply_markup
        )

    def send_photo(
        self,
        chat_id: int | str,
        path: Path,
        caption: str | None = None,
        *,
        parse_mode: str | None = "HTML",
        reply_markup: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Upload a local image as a photo (Telegram recompresses it)."""
        return self._send_file(
            "sendPhoto", "photo", chat_id, path, caption, parse_mode, reply_markup
        )

    # -- plumbing ----------------------------------------------------------------------------

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        chat_id: int | str | None = None,
        http_timeout: httpx.Timeout | None = None,
    ) -> Any:
        """Call any Bot API method; None-valued params are left out. Returns `result`."""
        if chat_id is not None and method in PACED:
            self.pacer.wait(chat_id)
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        kw: dict[str, Any] = {"idempotent": method in SAFE_TO_REPEAT,
                              "effect": _effect(method)}
        if method in SENDS:  # charged as it goes out: may defer the running step (its budget)
            kw["charge"] = charges.NOTIFY
        if http_timeout is not None:
            kw["timeout"] = http_timeout
        if files:
            kw["data"], kw["files"] = _form(clean), files
        else:
            kw["json"] = clean
        response = self._api.request("POST", f"/bot{self._token}/{method}", **kw)
        answer = _parse_answer(response)
        if answer is None:
            raise IntegrationError(SERVICE, f"{method}: answer is not Bot API JSON")
        if not answer.ok:
            raise telegram_error(method, response.status_code, answer, "")
        return answer.result

    def _send_file(
        self,
        method: str,
        field: str,
        chat_id: int | str,
        path: Path,
        caption: str | None,
        parse_mode: str | None,
        reply_markup: dict[str, Any] | None,
    ) -> dict[str, Any]:
        path = Path(path)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # Bytes, not an open file: a retried upload must send the whole file again.
        files = {field: (path.name, path.read_bytes(), mime)}
        params = {
            "chat_id": chat_id,
            "caption": caption,
            "parse_mode": parse_mode if caption else None,
            "reply_markup": reply_markup,
        }
        return self.call(method, params, files=files, chat_id=chat_id)


def _effect(method: str) -> str:
    """Bot API methods read (get*), tell someone (send*, edit*, answer*), or change the bot."""
    if method.startswith("get"):
        return "read"
    return "notify" if method.startswith(("send", "edit", "answer", "forward", "copy")) \
        else "write"


def _reply_to(message_id: int | None) -> dict[str, Any] | None:
    # reply_parameters replaced reply_to_message_id (Bot API 7.0); sending without the reply
    # target keeps a reply to a since-deleted message from failing outright.
    if message_id is None:
        return None
    return {"message_id": message_id, "allow_sending_without_reply": True}


def _form(params: dict[str, Any]) -> dict[str, str]:
    """multipart/form-data fields: objects and lists JSON-serialized, as the Bot API expects."""
    out = {}
    for key, value in params.items():
        if isinstance(value, dict | list):
            out[key] = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out

