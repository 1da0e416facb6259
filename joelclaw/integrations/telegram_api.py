"""The Bot API's error answers as typed errors, chat pacing and inline keyboards: the pieces of
the Telegram client that know Telegram's rules but send nothing themselves.


    IntegrationError
    └── HTTPStatusError
        └── TelegramError             the Bot API said {"ok": false}: error_code, description
            ├── TelegramParseError    400 "can't parse entities": resend the text as plain text
            ├── TelegramAuthError     401/403 (also an AuthError): bad token, bot blocked
            ├── TelegramNotFound      404 (also an HTTPNotFound): unknown method or wrong token path
            └── TelegramRateLimited   429 once retries are spent (also a RateLimited)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from joelclaw.integrations.http import (
    ApiClient,
    AuthError,
    HTTPNotFound,
    HTTPStatusError,
    IntegrationError,
    RateLimited,
    Sleep,
)

if TYPE_CHECKING:
    import httpx

SERVICE = "telegram"
CALLBACK_DATA_MAX_BYTES = 64
LONG_POLL_SLACK = 10.0  # extra read timeout over getUpdates' own `timeout`, so the poll ends first
# Methods that post into a chat and so count against Telegram's per-chat rate limit.
PACED = frozenset(
    {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendDocument", "sendPhoto"}
)
# Methods that send a new message: each is a `notify` effect (joelclaw.integrations.charges).
SENDS = frozenset({"sendMessage", "sendDocument", "sendPhoto", "sendVoice", "sendAudio",
                   "sendVideo", "sendMediaGroup", "sendAnimation", "sendSticker"})
# Methods safe to repeat after an ambiguous failure (nothing is posted twice).
SAFE_TO_REPEAT = frozenset(
    {"getUpdates", "getFile", "getMe", "setMyCommands", "sendChatAction", "answerCallbackQuery"}
)


class TelegramError(HTTPStatusError):
    """The Bot API answered {"ok": false}."""

    code = "TELEGRAM_ERROR"

    def __init__(
        self,
        method: str,
        error_code: int,
        description: str,
        *,
        retry_after: float | None = None,
        migrate_to_chat_id: int | None = None,
        body: str = "",
    ) -> None:
        self.method = method
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id
        message = f"{method} failed: {error_code} {description}"
        HTTPStatusError.__init__(self, SERVICE, error_code, body, message)


class TelegramParseError(TelegramError):
    """Telegram could not parse the HTML/Markdown entities; the caller can resend as plain text."""

    code = "TELEGRAM_PARSE_ERROR"


class TelegramAuthError(TelegramError, AuthError):
    """The token is wrong (401) or the bot may not act there (403, e.g. blocked by the user)."""

    code = "TELEGRAM_AUTH"


class TelegramNotFound(TelegramError, HTTPNotFound):
    """404: unknown method or token path."""

    code = "TELEGRAM_NOT_FOUND"


class TelegramRateLimited(TelegramError, RateLimited):
    """429 after the retries were spent, or a retry_after too long to wait for."""

    code = "TELEGRAM_RATE_LIMITED"


class _Parameters(BaseModel):
    model_config = ConfigDict(extra="ignore")
    retry_after: float | None = None
    migrate_to_chat_id: int | None = None


class _Answer(BaseModel):
    """The Bot API envelope: {"ok", "result"} or {"ok": false, "error_code", "description"}."""

    model_config = ConfigDict(extra="ignore")
    ok: bool
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    parameters: _Parameters | None = None


def _parse_answer(response: httpx.Response) -> _Answer | None:
    try:
        return _Answer.model_validate_json(response.content)
    except ValidationError:
        return None


def _method_of(response: httpx.Response) -> str:
    path = response.request.url.path
    return "downloadFile" if "/file/bot" in path else path.rsplit("/", 1)[-1]


def telegram_error(method: str, status: int, answer: _Answer | None, body: str) -> TelegramError:
    """The TelegramError subclass for a failed answer (status used when the body is not JSON)."""
    import httpx

    code = (answer.error_code if answer else None) or status
    description = (answer.description if answer else None) or httpx.codes.get_reason_phrase(code)
    params = (answer.parameters if answer else None) or _Parameters()
    cls = _error_class(code, description)
    return cls(
        method,
        code,
        description,
        retry_after=params.retry_after,
        migrate_to_chat_id=params.migrate_to_chat_id,
        body=body,
    )


def _error_class(code: int, description: str) -> type[TelegramError]:
    if code == 400 and "can't parse entities" in description.lower():
        return TelegramParseError
    if code in (401, 403):
        return TelegramAuthError
    if code == 404:
        return TelegramNotFound
    if code == 429:
        return TelegramRateLimited
    return TelegramError


class _BotApi(ApiClient):
    """ApiClient reading Telegram's error envelope (retry_after lives in the JSON body)."""

    def retry_after(self, response: httpx.Response) -> float | None:
        answer = _parse_answer(response)
        if answer and answer.parameters and answer.parameters.retry_after is not None:
            return max(0.0, answer.parameters.retry_after)
        return super().retry_after(response)

    def error_for(self, response: httpx.Response) -> IntegrationError:
        body = self.scrub(response.content[:2000].decode("utf-8", "replace"))
        answer = _parse_answer(response)
        return telegram_error(_method_of(response), response.status_code, answer, body)


class ChatPacer:
    """Spaces consecutive sends to one chat by `interval` seconds (Telegram throttles bursts).

    Slots are reserved under a lock and slept outside it, so chats do not wait on each other.
    """

    _PRUNE_AT = 1024

    def __init__(
        self, interval: float, *, clock: Callable[[], float] = time.monotonic, sleep: Sleep
    ) -> None:
        self.interval = max(0.0, interval)
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, chat_id: int | str) -> float:
        """Block until this chat may receive the next send; return the seconds waited."""
        if self.interval <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(str(chat_id), now))
            self._next[str(chat_id)] = slot + self.interval
            if len(self._next) > self._PRUNE_AT:
                self._next = {k: v for k, v in self._next.items() if v > now}
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay


def inline_keyboard(rows: Sequence[Sequence[tuple[str, str]]]) -> dict[str, Any]:
    """An InlineKeyboardMarkup from rows of (text, callback_data) buttons.

    Raises ValueError for an empty label or callback_data outside 1-64 UTF-8 bytes, which Telegram
    would reject as BUTTON_DATA_INVALID only after the message was composed.
    """
    keyboard = []
    for row in rows:
        buttons = []
        for text, data in row:
            if not text:
                raise ValueError("inline button text must not be empty")
            size = len(data.encode("utf-8"))
            if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
                raise ValueError(
                    f"callback_data must be 1-{CALLBACK_DATA_MAX_BYTES} bytes, got {size}: {data!r}"
                )
            buttons.append({"text": text, "callback_data": data})
        keyboard.append(buttons)
    return {"inline_keyboard": keyboard}


