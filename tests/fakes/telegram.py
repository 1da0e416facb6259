"""FakeTelegram: a real HTTP server on 127.0.0.1 speaking the Telegram Bot API wire format.

Endpoints live at /bot<token>/<method> (JSON, urlencoded or multipart/form-data bodies, plus the
query string, as the real API accepts) and files at /file/bot<token>/<file_path>. Answers use the
Bot API envelope: {"ok": true, "result": ...} or {"ok": false, "error_code", "description",
"parameters"}, with the HTTP status equal to error_code. HTML in sendMessage/editMessageText and
captions is parsed the way Telegram parses it (supported tags, balanced, entities decoded), and
the stored message carries the plain text plus entities (offsets in UTF-16 code units), as the
real API returns it.

    with FakeTelegram() as tg:
        client = TelegramClient(tg.token, tg.base_url)
        tg.push_message(from_id=1, chat_id=1, text="/status")
        client.get_updates(offset=0)
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import itertools
import json
import math
import re
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
UPDATE_TYPES = ("message", "edited_message", "callback_query", "channel_post")
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "scope",
    }
)
INT_FIELDS = frozenset({"message_id", "offset", "limit", "timeout", "reply_to_message_id"})
BOOL_FIELDS = frozenset({"show_alert", "disable_notification", "allow_sending_without_reply"})

# -- Telegram's HTML parse mode ------------------------------------------------------------------

TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME = re.compile(r"[A-Za-z0-9-]*")
_ATTR_NAME = re.compile(r"[A-Za-z0-9_-]+")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9A-Fa-f]{1,6})|([A-Za-z]{2,6}));")


class HtmlParseError(ValueError):
    """Why Telegram can't parse entities, e.g. 'Unsupported start tag "p" at byte offset 0'."""


@dataclass
class _Open:
    tag: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the plain text


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of Telegram-HTML `text`; raises HtmlParseError like the Bot API."""
    out: list[str] = []
    entities: list[dict[str, Any]] = []
    stack: list[_Open] = []
    offset = i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            i = _parse_tag(text, i, stack, entities, offset)
            continue
        if char == "&" and (m := _ENTITY.match(text, i)) and (decoded := _decode(m)):
            out.append(decoded)
            offset += _utf16_len(decoded)
            i = m.end()
            continue
        out.append(char)  # a bare '&' or '>' is accepted as text, as Telegram does
        offset += _utf16_len(char)
        i += 1
    if stack:
        raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _decode(m: re.Match[str]) -> str | None:
    if m.group(3):
        return NAMED_ENTITIES.get(m.group(3))
    code = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
    return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else None


def _parse_tag(text: str, i: int, stack: list[_Open], entities: list[dict], offset: int) -> int:
    if text.startswith("</", i):
        return _end_tag(text, i, stack, entities, offset)
    name = _TAG_NAME.match(text, i + 1).group(0).lower()  # type: ignore[union-attr]
    if name not in TAG_ENTITY:
        raise HtmlParseError(
            f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, i)}'
        )
    attrs, end = _attributes(text, i + 1 + len(name), i)
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise HtmlParseError(
            f'Tag "span" must have class "tg-spoiler" at byte offset {_byte_offset(text, i)}'
        )
    stack.append(_Open(name, attrs, offset))
    return end


def _attributes(text: str, j: int, start: int) -> tuple[dict[str, str], int]:
    attrs: dict[str, str] = {}
    while True:
        while j < len(text) and text[j].isspace():
            j += 1
        if j >= len(text):
            raise HtmlParseError(f"Unclosed start tag at byte offset {_byte_offset(text, start)}")
        if text[j] == ">":
            return attrs, j + 1
        m = _ATTR_NAME.match(text, j)
        if not m:
            raise HtmlParseError(
                f"Empty attribute name in the tag at byte offset {_byte_offset(text, start)}"
            )
        key, j = m.group(0).lower(), m.end()
        value = ""
        if j < len(text) and text[j] == "=":
            value, j = _attr_value(text, j + 1, start)
        attrs[key] = value


def _attr_value(text: str, j: int, start: int) -> tuple[str, int]:
    if j < len(text) and text[j] in "'\"":
        end = text.find(text[j], j + 1)
        if end < 0:
            raise HtmlParseError(
                f"Unclosed end of an attribute value at byte offset {_byte_offset(text, start)}"
            )
        return html.unescape(text[j + 1 : end]), end + 1
    m = re.compile(r"[^\s>]*").match(text, j)
    return html.unescape(m.group(0)), m.end()  # type: ignore[union-attr]


def _end_tag(text: str, i: int, stack: list[_Open], entities: list[dict], offset: int) -> int:
    close = text.find(">", i)
    if close < 0:
        raise HtmlParseError(f"Unclosed end tag at byte offset {_byte_offset(text, i)}")
    name = text[i + 2 : close].strip().lower()
    if not stack:
        raise HtmlParseError(f"Unexpected end tag at byte offset {_byte_offset(text, i)}")
    top = stack[-1]
    if top.tag != name:
        raise HtmlParseError(
            f"Unmatched end tag at byte offset {_byte_offset(text, i)}, "
            f'expected "</{top.tag}>", found "</{name}>"'
        )
    stack.pop()
    lang = top.attrs.get("class", "")
    if top.tag == "code" and stack and stack[-1].tag == "pre":
        # <pre><code class="language-x"> is one pre entity carrying the language, as in the API
        if lang.startswith("language-"):
            stack[-1].attrs["\0language"] = lang.removeprefix("language-")
        return close + 1
    if entity := _entity(top, offset):
        entities.append(entity)
    return close + 1


def _entity(top: _Open, offset: int) -> dict[str, Any] | None:
    length = offset - top.start
    if length <= 0:
        return None
    kind = TAG_ENTITY[top.tag]
    entity: dict[str, Any] = {"type": kind, "offset": top.start, "length": length}
    if kind == "text_link":
        if not top.attrs.get("href"):
            return None
        entity["url"] = top.attrs["href"]
    if kind == "blockquote" and "expandable" in top.attrs:
        entity["type"] = "expandable_blockquote"
    if kind == "custom_emoji":
        entity["custom_emoji_id"] = top.attrs.get("emoji-id", "")
    if kind == "pre" and top.attrs.get("\0language"):
        entity["language"] = top.attrs["\0language"]
    return entity


def html_error(text: str) -> str | None:
    """None when Telegram would accept `text` in HTML parse mode, else its error description."""
    try:
        parse_html(text)
    except HtmlParseError as exc:
        return f"Bad Request: can't parse entities: {exc}"
    return None


# -- the fake server -----------------------------------------------------------------------------


class BotApiError(Exception):
    """An {"ok": false} answer to send back."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


def bad(description: str) -> BotApiError:
    return BotApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class RecordedRequest:
    """One Bot API call as the server saw it (params normalized to JSON types)."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)
    content_type: str = ""


@dataclass
class _Failure:
    code: int
    description: str
    retry_after: float | None
    times: int
    skip: int = 0  # calls let through before the failures start
    flood: bool = False  # refuse the method until retry_after has passed, as Telegram does


@dataclass
class _File:
    file_id: str
    unique_id: str
    path: str
    content: bytes


class FakeTelegram:
    """A Bot API server in a thread. Thread-safe; every answer follows the real wire format."""

    def __init__(self, token: str = "123456:TEST-token_abc", *, poll_cap: float = 2.0) -> None:
        self.token = token
        self.poll_cap = poll_cap
        self.bot_user = {
            "id": int(token.split(":")[0]) if token.split(":")[0].isdigit() else 1,
            "is_bot": True,
            "first_name": "joelclaw",
            "username": "joelclaw_bot",
        }
        self.commands: list[dict[str, str]] = []
        self._lock = threading.RLock()
        self._updates_cv = threading.Condition(self._lock)
        self._requests: list[RecordedRequest] = []
        self._flood_until: dict[str, float] = {}
        self._failures: dict[str, deque[_Failure]] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1000)
        self._message_ids: dict[int | str, itertools.count[int]] = {}
        self._messages: dict[tuple[int | str, int], dict[str, Any]] = {}
        self._sent: list[tuple[int | str, int]] = []
        self._callbacks: set[str] = set()
        self._files: dict[str, _File] = {}
        self._file_seq = itertools.count(1)
        self._callback_seq = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._updates_cv.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server, "FakeTelegram is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- inspection --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def calls(self, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests, optionally only those of one method (case-insensitive)."""
        return [r for r in self.requests if method is None or r.method.lower() == method.lower()]

    def sent_messages(self, chat_id: int | str | None = None) -> list[dict[str, Any]]:
        """Messages the bot sent (current state, after edits), oldest first."""
        with self._lock:
            keys = [k for k in self._sent if chat_id is None or k[0] == _chat_key(chat_id)]
            return [json.loads(json.dumps(self._messages[k])) for k in keys]

    def message(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        with self._lock:
            found = self._messages.get((_chat_key(chat_id), message_id))
            return json.loads(json.dumps(found)) if found else None

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return list(self._updates)

    # -- programming it ----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str,
        retry_after: float | None = None,
        times: int = 1,
        skip: int = 0,
        flood: bool = False,
    ) -> None:
        """Answer the next `times` calls of `method` with this {"ok": false} error (after
        letting `skip` calls through, e.g. to fail the second chunk of a long message). With
        `flood`, a 429's `retry_after` is enforced as Telegram's flood control does: a call of
        `method` before it has passed is refused again (and recorded, so a test counts it)."""
        with self._lock:
            queue = self._failures.setdefault(method.lower(), deque())
            queue.append(_Failure(error_code, description, retry_after, times, skip, flood))

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update of `kind` (message, callback_query, ...) for getUpdates."""
        with self._lock:
            update = {"update_id": next(self._update_ids), kind: payload}
            self._updates.append(update)
            self._updates_cv.notify_all()
            return update

    def push_message(self, from_id: int, chat_id: int | str, text: str, *,
                     forward_origin: dict[str, Any] | None = None) -> dict[str, Any]:
        """An incoming text message (slash commands get their bot_command entity); with
        `forward_origin`, a message the sender forwarded (Bot API 7.0's MessageOrigin)."""
        message = self._incoming(from_id, chat_id, text=text, forward_origin=forward_origin)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        return self.push_update("message", message)

    def push_callback(
        self, from_id: int, chat_id: int | str, message_id: int, data: str
    ) -> dict[str, Any]:
        """A button press on message `message_id`; its id must be answered (answerCallbackQuery)."""
        with self._lock:
            query_id = str(4_000_000_000 + next(self._callback_seq) * 7919)
            self._callbacks.add(query_id)
            message = self._messages.get((_chat_key(chat_id), message_id)) or {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": _chat(chat_id),
            }
            query = {
                "id": query_id,
                "from": _user(from_id),
                "message": json.loads(json.dumps(message)),
                "chat_instance": f"ci{_chat_key(chat_id)}",
                "data": data,
            }
        return self.push_update("callback_query", query)

    def push_photo(
        self,
        from_id: int,
        chat_id: int | str,
        content: bytes = b"\xff\xd8\xff\xe0fake-jpeg",
        *,
        caption: str | None = None,
        width: int = 1280,
        height: int = 960,
    ) -> dict[str, Any]:
        """An incoming photo: a thumbnail and a full size, both downloadable via getFile."""
        thumb = self.add_file(content[:16], f"photos/file_{next(self._file_seq)}_s.jpg")
        full = self.add_file(content, f"photos/file_{next(self._file_seq)}.jpg")
        sizes = [
            _photo_size(thumb, 90, 90 * height // max(width, 1)),
            _photo_size(full, width, height),
        ]
        message = self._incoming(from_id, chat_id, photo=sizes, caption=caption)
        return self.push_update("message", message)

    def push_document(
        self,
        from_id: int,
        chat_id: int | str,
        content: bytes,
        file_name: str,
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
        forward_from: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An incoming document, downloadable via getFile (stored under a path of the fake's
        own: the sender's `file_name` is theirs to choose, anything at all)."""
        stored = self.add_file(content, f"documents/file_{next(self._file_seq)}")
        doc = {**_file_ref(stored), "file_name": file_name, "mime_type": mime_type}
        message = self._incoming(from_id, chat_id, document=doc, caption=caption,
                                 forward_origin=forward_from)
        return self.push_update("message", message)

    def push_voice(
        self,
        from_id: int,
        chat_id: int | str,
        content: bytes = b"OggS\x00fake-opus-voice",
        *,
        duration: int = 3,
        caption: str | None = None,
        forward_origin: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An incoming voice note (audio/ogg, OPUS), downloadable via getFile; with
        `forward_origin`, someone else's note the sender forwarded."""
        stored = self.add_file(content, f"voice/file_{next(self._file_seq)}.oga")
        voice = {**_file_ref(stored), "duration": duration, "mime_type": "audio/ogg"}
        message = self._incoming(from_id, chat_id, voice=voice, caption=caption,
                                 forward_origin=forward_origin)
        return self.push_update("message", message)

    def add_file(self, content: bytes, file_path: str | None = None) -> _File:
        """Store a file that getFile and /file/bot<token>/<path> will serve."""
        with self._lock:
            n = next(self._file_seq)
            stored = _File(
                f"BQACAgIAAx{n:08d}", f"AgAD{n:06d}", file_path or f"documents/file_{n}", content
            )
            self._files[stored.file_id] = stored
            return stored

    def file_content(self, file_id: str) -> bytes:
        with self._lock:
            return self._files[file_id].content

    def _incoming(self, from_id: int, chat_id: int | str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            message = {
                "message_id": self._next_message_id(chat_id),
                "from": _user(from_id),
                "chat": _chat(chat_id, from_id),
                "date": int(time.time()),
                **{k: v for k, v in fields.items() if v is not None},
            }
            self._messages[(_chat_key(chat_id), message["message_id"])] = message
            return json.loads(json.dumps(message))

    def _next_message_id(self, chat_id: int | str) -> int:
        return next(self._message_ids.setdefault(_chat_key(chat_id), itertools.count(1)))

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any], files: dict, ctype: str) -> Any:
        """Run one Bot API method; returns `result` or raises BotApiError."""
        with self._lock:
            self._requests.append(RecordedRequest(method, params, files, ctype))
            failure = self._flooded(method) or self._take_failure(method)
        if failure:
            extra = (
                {"retry_after": failure.retry_after} if failure.retry_after is not None else None
            )
            raise BotApiError(failure.code, failure.description, extra)
        handler = METHODS.get(method.lower())
        if handler is None:
            raise BotApiError(404, "Not Found")
        return handler(self, params, files)

    def _take_failure(self, method: str) -> _Failure | None:
        queue = self._failures.get(method.lower())
        if not queue:
            return None
        failure = queue[0]
        if failure.skip > 0:
            failure.skip -= 1
            return None
        failure.times -= 1
        if failure.times <= 0:
            queue.popleft()
        if failure.flood and failure.retry_after:
            self._flood_until[method.lower()] = time.monotonic() + failure.retry_after
        return failure

    def _flooded(self, method: str) -> _Failure | None:
        """A 429 for a call made before a flood failure's retry_after has passed."""
        left = self._flood_until.get(method.lower(), 0.0) - time.monotonic()
        if left <= 0:
            return None
        return _Failure(429, f"Too Many Requests: retry after {math.ceil(left)}",
                        math.ceil(left), 1)

    # -- methods -----------------------------------------------------------------------------

    def _get_me(self, params: dict, files: dict) -> Any:
        return self.bot_user

    def _get_updates(self, params: dict, files: dict) -> Any:
        offset, limit = params.get("offset"), params.get("limit") or 100
        if not 1 <= limit <= 100:
            limit = 100
        allowed = params.get("allowed_updates") or None
        deadline = time.monotonic() + min(max(params.get("timeout") or 0, 0), self.poll_cap)
        with self._updates_cv:
            self._confirm(offset)
            while True:
                ready = [u for u in self._updates if _allowed(u, allowed)]
                remaining = deadline - time.monotonic()
                if ready or remaining <= 0 or self._stopping:
                    return json.loads(json.dumps(ready[:limit]))
                self._updates_cv.wait(remaining)

    def _confirm(self, offset: int | None) -> None:
        if offset is None or offset == 0:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _send_message(self, params: dict, files: dict) -> Any:
        chat_id = _require_chat(params)
        text, entities = _text_and_entities(params, "text", TEXT_LIMIT, "message is too long")
        if not text.strip():
            raise bad("message text is empty")
        return self._store_sent(chat_id, params, text=text, entities=entities)

    def _send_file(self, params: dict, files: dict, field_name: str) -> Any:
        chat_id = _require_chat(params)
        upload = files.get(field_name) or params.get(field_name)
        if not upload:
            raise bad(f"there is no {field_name} in the request")
        stored = self._stored_upload(upload, field_name)
        caption, entities = _text_and_entities(
            params, "caption", CAPTION_LIMIT, "message caption is too long"
        )
        if field_name == "photo":
            media: Any = [_photo_size(stored, 800, 600)]
        else:
            name = upload[0] if isinstance(upload, tuple) else stored.path.rsplit("/", 1)[-1]
            mime = upload[2] if isinstance(upload, tuple) else "application/octet-stream"
            media = {**_file_ref(stored), "file_name": name, "mime_type": mime}
        extra = {field_name: media, "caption": caption or None}
        return self._store_sent(chat_id, params, caption_entities=entities, **extra)

    def _stored_upload(self, upload: Any, field_name: str) -> _File:
        if isinstance(upload, tuple):
            prefix = "photos" if field_name == "photo" else "documents"
            return self.add_file(upload[1], f"{prefix}/file_{next(self._file_seq)}_{upload[0]}")
        with self._lock:
            if str(upload) in self._files:
                return self._files[str(upload)]
        raise bad("wrong file identifier/HTTP URL specified")

    def _store_sent(self, chat_id: int | str, params: dict, **fields: Any) -> dict[str, Any]:
        markup = _validated_markup(params.get("reply_markup"))
        with self._lock:
            reply = self._reply_target(chat_id, params)
            message = {
                "message_id": self._next_message_id(chat_id),
                "from": self.bot_user,
                "chat": _chat(chat_id),
                "date": int(time.time()),
                **{k: v for k, v in fields.items() if v},
            }
            if reply:
                message["reply_to_message"] = reply
            if markup and markup.get("inline_keyboard"):
                message["reply_markup"] = markup
            key = (_chat_key(chat_id), message["message_id"])
            self._messages[key] = message
            self._sent.append(key)
            return json.loads(json.dumps(message))

    def _reply_target(self, chat_id: int | str, params: dict) -> dict[str, Any] | None:
        wanted = params.get("reply_parameters") or {}
        message_id = wanted.get("message_id") or params.get("reply_to_message_id")
        if not message_id:
            return None
        found = self._messages.get((_chat_key(chat_id), int(message_id)))
        if found is None and not (
            wanted.get("allow_sending_without_reply") or params.get("allow_sending_without_reply")
        ):
            raise bad("message to be replied not found")
        return {k: v for k, v in found.items() if k != "reply_to_message"} if found else None

    def _edit_text(self, params: dict, files: dict) -> Any:
        if params.get("inline_message_id"):
            return True
        text, entities = _text_and_entities(params, "text", TEXT_LIMIT, "message is too long")
        if not text.strip():
            raise bad("message text is empty")
        return self._edit(params, {"text": text, "entities": entities})

    def _edit_markup(self, params: dict, files: dict) -> Any:
        if params.get("inline_message_id"):
            return True
        return self._edit(params, {})

    def _edit(self, params: dict, changes: dict[str, Any]) -> Any:
        chat_id = _require_chat(params)
        markup = _validated_markup(params.get("reply_markup"))
        with self._lock:
            message = self._messages.get((_chat_key(chat_id), params.get("message_id") or 0))
            if message is None:
                raise bad("message to edit not found")
            updated = {k: v for k, v in message.items() if k not in ("reply_markup", "edit_date")}
            if "text" in changes:
                updated.pop("entities", None)
                updated.update({k: v for k, v in changes.items() if v})
            if markup and markup.get("inline_keyboard"):
                updated["reply_markup"] = markup
            if _same(updated, message):
                raise bad(
                    "message is not modified: specified new message content and reply markup "
                    "are exactly the same as a current content and reply markup of the message"
                )
            updated["edit_date"] = int(time.time())
            message.clear()
            message.update(updated)
            return json.loads(json.dumps(message))

    def _answer_callback(self, params: dict, files: dict) -> Any:
        with self._lock:
            if params.get("callback_query_id") not in self._callbacks:
                raise bad("query is too old and response timeout expired or query ID is invalid")
            self._callbacks.discard(params["callback_query_id"])
        if len(params.get("text") or "") > 200:
            raise bad("MESSAGE_TOO_LONG")
        return True

    def _send_chat_action(self, params: dict, files: dict) -> Any:
        _require_chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    def _set_my_commands(self, params: dict, files: dict) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        for item in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(item.get("command", ""))):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(item.get("description", "")).strip()) <= 256:
                raise bad("command description must be non-empty")
        with self._lock:
            self.commands = [
                {"command": c["command"], "description": c["description"]} for c in commands
            ]
        return True

    def _get_my_commands(self, params: dict, files: dict) -> Any:
        with self._lock:
            return list(self.commands)

    def _get_file(self, params: dict, files: dict) -> Any:
        with self._lock:
            stored = self._files.get(str(params.get("file_id") or ""))
        if stored is None:
            raise bad("invalid file_id")
        return {**_file_ref(stored), "file_path": stored.path}

    def _delete_message(self, params: dict, files: dict) -> Any:
        chat_id = _require_chat(params)
        with self._lock:
            key = (_chat_key(chat_id), params.get("message_id") or 0)
            if self._messages.pop(key, None) is None:
                raise bad("message to delete not found")
            if key in self._sent:
                self._sent.remove(key)
        return True

    def _pin(self, params: dict, files: dict) -> Any:
        _require_chat(params)
        return True

    def download(self, path: str) -> bytes | None:
        """Bytes served at /file/bot<token>/<path>, or None (404)."""
        with self._lock:
            for stored in self._files.values():
                if stored.path == path:
                    return stored.content
        return None


METHODS: dict[str, Callable[[FakeTelegram, dict, dict], Any]] = {
    "getme": FakeTelegram._get_me,
    "getupdates": FakeTelegram._get_updates,
    "sendmessage": FakeTelegram._send_message,
    "editmessagetext": FakeTelegram._edit_text,
    "editmessagereplymarkup": FakeTelegram._edit_markup,
    "answercallbackquery": FakeTelegram._answer_callback,
    "sendchataction": FakeTelegram._send_chat_action,
    "setmycommands": FakeTelegram._set_my_commands,
    "getmycommands": FakeTelegram._get_my_commands,
    "getfile": FakeTelegram._get_file,
    "senddocument": lambda fake, p, f: fake._send_file(p, f, "document"),
    "sendphoto": lambda fake, p, f: fake._send_file(p, f, "photo"),
    "deletemessage": FakeTelegram._delete_message,
    "pinchatmessage": FakeTelegram._pin,
    "unpinchatmessage": FakeTelegram._pin,
}


# -- helpers -------------------------------------------------------------------------------------


def _chat_key(chat_id: int | str) -> int | str:
    text = str(chat_id)
    return int(text) if re.fullmatch(r"-?\d+", text) else text


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"User{user_id}", "language_code": "en"}


def _chat(chat_id: int | str, user_id: int | None = None) -> dict[str, Any]:
    key = _chat_key(chat_id)
    if isinstance(key, int) and key > 0:
        return {"id": key, "type": "private", "first_name": f"User{user_id or key}"}
    if isinstance(key, int):
        return {"id": key, "type": "supergroup", "title": f"Group {key}"}
    return {"id": -100, "type": "channel", "title": key, "username": key.lstrip("@")}


def _file_ref(stored: _File) -> dict[str, Any]:
    return {
        "file_id": stored.file_id,
        "file_unique_id": stored.unique_id,
        "file_size": len(stored.content),
    }


def _photo_size(stored: _File, width: int, height: int) -> dict[str, Any]:
    return {**_file_ref(stored), "width": width, "height": height}


def _allowed(update: dict[str, Any], allowed: list[str] | None) -> bool:
    return not allowed or any(kind in update for kind in allowed)


def _require_chat(params: dict[str, Any]) -> int | str:
    chat_id = params.get("chat_id")
    if chat_id in (None, ""):
        raise bad("chat_id is empty")
    return _chat_key(chat_id)


def _text_and_entities(
    params: dict[str, Any], key: str, limit: int, too_long: str
) -> tuple[str, list[dict[str, Any]]]:
    raw = params.get(key)
    if raw is None:
        return "", []
    given = params.get("entities" if key == "text" else "caption_entities")
    text, entities = str(raw), list(given or [])
    mode = str(params.get("parse_mode") or "")
    if mode.lower() == "html":
        try:
            text, entities = parse_html(text)
        except HtmlParseError as exc:
            raise bad(f"can't parse entities: {exc}") from None
    elif mode and mode.lower() not in ("markdown", "markdownv2"):
        raise bad("unsupported parse_mode")
    # Telegram trims surrounding whitespace and counts the limit on the parsed text.
    if len(text.strip()) > limit:
        raise bad(too_long)
    return text, entities


def _validated_markup(markup: Any) -> dict[str, Any] | None:
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise bad('can\'t parse inline keyboard button: field "inline_keyboard" must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise bad("can't parse inline keyboard button: Text buttons are unallowed")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                raise bad("BUTTON_DATA_INVALID")
    return markup


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("text", "entities", "caption", "reply_markup")
    return all(a.get(k) == b.get(k) for k in keys)


def _coerce(key: str, value: Any) -> Any:
    """Form fields arrive as strings; the Bot API reads them by type, so do we."""
    if not isinstance(value, str):
        return _chat_key(value) if key == "chat_id" and value is not None else value
    if key in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise bad(f"can't parse {key} JSON object") from None
    if key == "chat_id":
        return _chat_key(value)
    if key in INT_FIELDS and re.fullmatch(r"-?\d+", value):
        return int(value)
    if key in BOOL_FIELDS:
        return value.lower() in ("true", "1")
    return value


def _parse_body(ctype: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple]]:
    kind = ctype.split(";")[0].strip().lower()
    if not body:
        return {}, {}
    if kind == "application/json":
        try:
            data = json.loads(body)
        except ValueError:
            raise bad("can't parse JSON object") from None
        if not isinstance(data, dict):
            raise bad("JSON object expected")
        return data, {}
    if kind == "multipart/form-data":
        return _parse_multipart(ctype, body)
    pairs = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs), {}


def _parse_multipart(ctype: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple]]:
    head = f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    params: dict[str, Any] = {}
    files: dict[str, tuple] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[str(name)] = (filename, payload, part.get_content_type())
        else:
            params[str(name)] = payload.decode("utf-8")
    return params, files


_API_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z]+)/?$")
_FILE_PATH = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTelegram
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output stays readable (and would otherwise print the token)."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urllib.parse.unquote(url.path)
        if m := _FILE_PATH.match(path):
            return self._serve_file(m["token"], m["path"])
        m = _API_PATH.match(path)
        if not m or m["token"] != self.fake.token:
            code = 401 if m else 404
            return self._answer(BotApiError(code, "Unauthorized" if m else "Not Found"))
        try:
            self._answer(self._call(m["method"], url.query, body))
        except BotApiError as exc:
            self._answer(exc)

    def _call(self, method: str, query: str, body: bytes) -> Any:
        ctype = self.headers.get("Content-Type", "")
        params, files = _parse_body(ctype, body)
        merged = {**dict(urllib.parse.parse_qsl(query)), **params}
        clean = {k: _coerce(k, v) for k, v in merged.items()}
        return self.fake.handle(method, clean, files, ctype)

    def _serve_file(self, token: str, path: str) -> None:
        content = self.fake.download(path) if token == self.fake.token else None
        if content is None:
            return self._answer(BotApiError(404, "Not Found"))
        self._write(200, content, "application/octet-stream")

    def _answer(self, result: Any) -> None:
        if isinstance(result, BotApiError):
            payload: dict[str, Any] = {
                "ok": False,
                "error_code": result.code,
                "description": result.description,
            }
            if result.parameters:
                payload["parameters"] = result.parameters
            status = result.code
        else:
            payload, status = {"ok": True, "result": result}, 200
        data = json.dumps(payload, ensure_ascii=False).encode()
        self._write(status, data, "application/json")

    def _write(self, status: int, data: bytes, ctype: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client left first (a long poll given up at a gateway's stop), as it may
