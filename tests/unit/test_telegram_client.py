"""TelegramClient against FakeTelegram: a real HTTP server on 127.0.0.1 speaking the Bot API.

Every call goes over a socket; sleeps and the monotonic clock are injected so that 429 waits and
per-chat pacing are observed, not waited for.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from joelclaw.gateway.format import strip_html
from joelclaw.integrations.http import AuthError, RateLimited, RetryPolicy
from joelclaw.integrations.telegram import (
    TelegramAuthError,
    TelegramClient,
    TelegramError,
    TelegramParseError,
    TelegramRateLimited,
    inline_keyboard,
)
from tests.fakes.telegram import FakeTelegram
from tests.support import wait_for

OWNER = 7001
CHAT = 7001


class Clock:
    """A monotonic clock that only moves when the client sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tg: FakeTelegram, clock: Clock) -> Iterator[TelegramClient]:
    with TelegramClient(
        tg.token, tg.base_url, sleep=clock.sleep, clock=clock, min_interval_per_chat=0
    ) as bot:
        yield bot


# -- receiving -----------------------------------------------------------------------------------


def test_get_updates_returns_queued_updates_until_confirmed_by_offset(
    tg: FakeTelegram, client: TelegramClient
) -> None:
    first = tg.push_message(OWNER, CHAT, "/status")
    second = tg.push_message(OWNER, CHAT, "hello")

    updates = client.get_updates(offset=None, timeout=0)

    assert [u["update_id"] for u in updates] == [first["update_id"], second["update_id"]]
    message = updates[0]["message"]
    assert message["text"] == "/status" and message["from"]["id"] == OWNER
    assert message["entities"] == [{"type": "bot_command", "offset": 0, "length": 7}]
    assert client.get_updates(offset=None) == updates  # not confirmed yet: delivered again
    assert client.get_updates(offset=second["update_id"] + 1) == []
    assert tg.pending_updates() == []


def test_get_updates_long_poll_wakes_when_an_update_arrives(
    tg: FakeTelegram, client: TelegramClient
) -> None:
    tg.poll_cap = 600  # held longer than any wait here: only the update can end the poll
    got: list[list[dict]] = []
    poll = threading.Thread(target=lambda: got.append(client.get_updates(timeout=600)),
                            daemon=True)
    poll.start()
    wait_for(lambda: tg.calls("getUpdates"), message="the long poll under way")

    tg.push_message(OWNER, CHAT, "late")

    wait_for(lambda: got, message="the poll woken by the update")
    assert [u["message"]["text"] for u in got[0]] == ["late"]
    assert len(tg.calls("getUpdates")) == 1  # the same long poll answered it


def test_get_updates_long_poll_times_out_empty(tg: FakeTelegram, client: TelegramClient) -> None:
    assert client.get_updates(timeout=1) == []  # the server's hold ended: nothing, no error
    assert len(tg.calls("getUpdates")) == 1
    assert tg.calls("getUpdates")[0].params["timeout"] == 1


def test_get_updates_filters_by_allowed_updates(tg: FakeTelegram, client: TelegramClient) -> None:
    sent = client.send_message(CHAT, "pick one")
    tg.push_message(OWNER, CHAT, "text")
    tg.push_callback(OWNER, CHAT, sent["message_id"], "cmd:status")

    updates = client.get_updates(allowed_updates=["callback_query"])

    assert [list(u)[1] for u in updates] == ["callback_query"]
    query = updates[0]["callback_query"]
    assert query["data"] == "cmd:status" and query["message"]["message_id"] == sent["message_id"]


# -- sending and editing -------------------------------------------------------------------------


def test_send_message_round_trips_html_as_text_and_entities(
    tg: FakeTelegram, client: TelegramClient
) -> None:
    first = client.send_message(CHAT, "<b>Deploy</b> failed &amp; <i>rolled back</i>")
    second = client.send_message(CHAT, "plain <not html>", parse_mode=None)

    assert second["message_id"] == first["message_id"] + 1
    assert first["chat"]["id"] == CHAT and first["from"]["is_bot"] is True
    assert first["text"] == "Deploy failed & rolled back"
    assert first["entities"] == [
        {"type": "bold", "offset": 0, "length": 6},
        {"type": "italic", "offset": 16, "length": 11},
    ]
    assert second["text"] == "plain <not html>"
    assert tg.calls("sendMessage")[0].params["parse_mode"] == "HTML"
    assert "parse_mode" not in tg.calls("sendMessage")[1].params
    assert [m["message_id"] for m in tg.sent_messages(CHAT)] == [1, 2]


def test_message_ids_increment_per_chat(tg: FakeTelegram, client: TelegramClient) -> None:
    a1 = client.send_message(1, "a")
    b1 = client.send_message(2, "b")
    a2 = client.send_message(1, "a")

    assert (a1["message_id"], b1["message_id"], a2["message_id"]) == (1, 1, 2)
    assert len(tg.sent_messages()) == 3 and len(tg.sent_messages(2)) == 1


def test_send_message_as_a_reply_with_an_inline_keyboard(
    tg: FakeTelegram, client: TelegramClient
) -> None:
    incoming = tg.push_message(OWNER, CHAT, "approve?")["message"]
    keyboard = inline_keyboard([[("✅ Approve", "memory:approve:42"), ("❌", "memory:reject:42")]])

    sent = client.send_message(
        CHAT, "Proposal 42", reply_markup=keyboard, reply_to_message_id=incoming["message_id"]
    )

    assert sent["reply_to_message"]["message_id"] == incoming["message_id"]
    assert sent["reply_markup"] == keyboard
    params = tg.calls("sendMessage")[0].params
    assert params["reply_parameters"] == {
        "message_id": incoming["message_id"],
        "allow_sending_without_reply": True,
    }


def test_edit_message_text_and_then_remove_the_keyboard(
    tg: FakeTelegram, client: TelegramClient
) -> None:
    keyboard = inline_keyboard([[("Snooze", "s4h:abc")]])
    sent = client.send_message(CHAT, "Alert", reply_markup=keyboard)

    edited = client.edit_message_text(
        CHAT, sent["message_id"], "Alert <i>(snoozed)</i>", reply_markup=keyboard
    )
    bare = client.edit_message_reply_markup(CHAT, sent["message_id"])

    assert isinstance(edited, dict) and edited["text"] == "Alert (snoozed)"
    assert "edit_date" in edited and edited["reply_markup"] == keyboard
    assert isinstance(bare, dict) and "reply_markup" not in bare
    assert tg.sent_messages(CHAT)[0]["text"] == "Alert (snoozed)"


def test_editing_to_the_same_content_is_a_telegram_error(client: TelegramClient) -> None:
    sent = client.send_message(CHAT, "same")

    with pytest.raises(TelegramError) as info:
        client.edit_message_text(CHAT, sent["message_id"], "same")

    assert info.value.error_code == 400
    assert info.value.description.startswith("Bad Request: message is not modified")
    assert not isinstance(info.value, TelegramParseError)


def test_answer_callback_query_once(tg: FakeTelegram, client: TelegramClient) -> None:
    sent = client.send_message(CHAT, "buttons")
    update = tg.push_callback(OWNER, CHAT, sent["message_id"], "memory:approve:1")
    query_id = update["callback_query"]["id"]

    assert client.answer_callback_query(query_id, "Approved") is True
    with pytest.raises(TelegramError, match="query is too old"):
        client.answer_callback_query(query_id)
    assert tg.calls("answerCallbackQuery")[0].params == {
        "callback_query_id": query_id,
        "text": "Approved",
    }


def test_send_chat_action(tg: FakeTelegram, client: TelegramClient) -> None:
    assert client.send_chat_action(CHAT) is True
    with pytest.raises(TelegramError, match="wrong parameter action"):
        client.send_chat_action(CHAT, "dancing")
    assert tg.calls("sendChatAction")[0].params == {"chat_id": CHAT, "action": "typing"}


def test_set_my_commands(tg: FakeTelegram, client: TelegramClient) -> None:
    assert client.set_my_commands([("/status", "System status"), ("runs", "Recent runs")])

    assert tg.commands == [
        {"command": "status", "description": "System status"},
        {"command": "runs", "description": "Recent runs"},
    ]


# -- files ---------------------------------------------------------------------------------------


def test_get_file_and_download_an_incoming_photo(
    tg: FakeTelegram, client: TelegramClient, tmp_path: Path
) -> None:
    content = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    update = tg.push_photo(OWNER, CHAT, content, caption="receipt")
    largest = update["message"]["photo"][-1]

    info = client.get_file(largest["file_id"])
    saved = client.download_file(info["file_path"], tmp_path / "media" / "receipt.jpg")
    into_dir = client.download_file(info["file_path"], tmp_path)

    assert info["file_size"] == len(content) and info["file_path"].startswith("photos/")
    assert saved.read_bytes() == content
    assert into_dir == tmp_path / Path(info["file_path"]).name and into_dir.read_bytes() == content
    assert not [p for p in (tmp_path / "media").iterdir() if p.name.startswith(".")]


def test_unknown_file_id_and_missing_download(client: TelegramClient, tmp_path: Path) -> None:
    with pytest.raises(TelegramError, match="invalid file_id"):
        client.get_file("nope")
    with pytest.raises(TelegramError) as info:
        client.download_file("documents/missing.pdf", tmp_path / "x.pdf")
    assert info.value.error_code == 404 and info.value.method == "downloadFile"
    assert not (tmp_path / "x.pdf").exists()


def test_send_document_uploads_multipart_and_round_trips(
    tg: FakeTelegram, client: TelegramClient, tmp_path: Path
) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"weekly report\n" * 100)
    keyboard = inline_keyboard([[("Open", "cmd:open")]])

    sent = client.send_document(CHAT, path, caption="<b>Weekly</b> report", reply_markup=keyboard)

    call = tg.calls("sendDocument")[0]
    assert call.content_type.startswith("multipart/form-data")
    assert call.files["document"] == ("report.txt", path.read_bytes(), "text/plain")
    assert call.params["reply_markup"] == keyboard and call.params["chat_id"] == CHAT
    assert sent["document"]["file_name"] == "report.txt"
    assert sent["caption"] == "Weekly report"
    assert sent["caption_entities"] == [{"type": "bold", "offset": 0, "length": 6}]
    file_path = client.get_file(sent["document"]["file_id"])["file_path"]
    assert client.download_file(file_path, tmp_path / "back.txt").read_bytes() == path.read_bytes()


def test_send_photo(tg: FakeTelegram, client: TelegramClient, tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)

    sent = client.send_photo(CHAT, path)

    assert sent["photo"][-1]["file_size"] == path.stat().st_size
    call = tg.calls("sendPhoto")[0]
    assert call.files["photo"][2] == "image/png"
    assert "caption" not in call.params and "parse_mode" not in call.params


# -- failures ------------------------------------------------------------------------------------


def test_a_429_waits_retry_after_then_succeeds(
    tg: FakeTelegram, client: TelegramClient, clock: Clock
) -> None:
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)

    sent = client.send_message(CHAT, "hi")

    assert sent["text"] == "hi"
    assert clock.sleeps == [3.0]
    assert len(tg.calls("sendMessage")) == 2
    assert len(tg.sent_messages(CHAT)) == 1


def test_a_persistent_429_raises_rate_limited_after_bounded_attempts(
    tg: FakeTelegram, clock: Clock
) -> None:
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 5", retry_after=5, times=10)
    bot = TelegramClient(tg.token, tg.base_url, sleep=clock.sleep, clock=clock, max_attempts=3)

    with bot, pytest.raises(TelegramRateLimited) as info:
        bot.send_message(CHAT, "hi")

    error = info.value
    assert isinstance(error, RateLimited) and isinstance(error, TelegramError)
    assert error.retry_after == 5 and error.error_code == 429
    assert error.description == "Too Many Requests: retry after 5"
    assert len(tg.calls("sendMessage")) == 3
    assert clock.sleeps == [5.0, 5.0]


def test_a_retry_after_beyond_the_policy_cap_is_not_slept(tg: FakeTelegram, clock: Clock) -> None:
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 600", retry_after=600)
    policy = RetryPolicy(max_attempts=3, max_retry_after=60)

    bot = TelegramClient(tg.token, tg.base_url, sleep=clock.sleep, clock=clock, policy=policy)

    with bot, pytest.raises(TelegramRateLimited):
        bot.send_message(CHAT, "hi")

    assert clock.sleeps == []


def test_a_5xx_is_retried(tg: FakeTelegram, client: TelegramClient, clock: Clock) -> None:
    tg.fail_next("sendChatAction", 502, "Bad Gateway", times=2)

    assert client.send_chat_action(CHAT) is True
    assert len(tg.calls("sendChatAction")) == 3 and len(clock.sleeps) == 2


def test_unparseable_html_raises_telegram_parse_error_and_plain_text_fallback_works(
    tg: FakeTelegram, client: TelegramClient
) -> None:
    broken = "<b>bold <i>crossed</b></i> 1 < 2"

    with pytest.raises(TelegramParseError) as info:
        client.send_message(CHAT, broken)
    sent = client.send_message(CHAT, strip_html(broken), parse_mode=None)

    assert info.value.error_code == 400
    assert info.value.description.startswith("Bad Request: can't parse entities: Unmatched end tag")
    assert len(tg.calls("sendMessage")) == 2  # a 400 is not retried
    assert sent["text"] == "bold crossed 1 < 2"


@pytest.mark.parametrize("text", ["<p>para</p>", "<b>open", "x </i>", "a <br/> b"])
def test_the_fake_rejects_unsupported_or_unbalanced_tags(client: TelegramClient, text: str) -> None:
    with pytest.raises(TelegramParseError, match="can't parse entities"):
        client.send_message(CHAT, text)


def test_a_programmed_parse_error_maps_to_telegram_parse_error(
    tg: FakeTelegram, client: TelegramClient
) -> None:
    tg.fail_next("editMessageText", 400, "Bad Request: can't parse entities: Unsupported start tag")
    sent = client.send_message(CHAT, "x")

    with pytest.raises(TelegramParseError):
        client.edit_message_text(CHAT, sent["message_id"], "y")


def test_too_long_text_is_rejected_like_telegram(client: TelegramClient) -> None:
    with pytest.raises(TelegramError) as info:
        client.send_message(CHAT, "x" * 4097)

    assert info.value.description == "Bad Request: message is too long"
    assert client.send_message(CHAT, "<b>" + "x" * 4096 + "</b>")["text"] == "x" * 4096


def test_a_wrong_token_is_an_auth_error_that_never_shows_the_token(tg: FakeTelegram) -> None:
    token = "999999:WRONG-secret-token"
    bot = TelegramClient(token, tg.base_url, sleep=lambda s: None)

    with bot, pytest.raises(TelegramAuthError) as info:
        bot.send_message(CHAT, "hi")

    error = info.value
    assert isinstance(error, AuthError) and error.error_code == 401
    assert str(error) == "telegram: sendMessage failed: 401 Unauthorized"
    for text in (str(error), repr(error), error.body, repr(bot)):
        assert token not in text


def test_a_blocked_bot_is_an_auth_error(tg: FakeTelegram, client: TelegramClient) -> None:
    tg.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")

    with pytest.raises(TelegramAuthError, match="bot was blocked"):
        client.send_message(CHAT, "hi")


def test_an_unknown_method_is_not_found(client: TelegramClient) -> None:
    with pytest.raises(TelegramError) as info:
        client.call("sendTelepathy", {"chat_id": CHAT})

    assert info.value.error_code == 404


# -- pacing --------------------------------------------------------------------------------------


def test_sends_to_one_chat_are_spaced_by_the_minimum_interval(
    tg: FakeTelegram, clock: Clock
) -> None:
    bot = TelegramClient(tg.token, tg.base_url, sleep=clock.sleep, clock=clock)

    with bot:
        bot.send_message(1, "a")
        bot.send_message(1, "b")
        bot.send_message(2, "other chat: no wait")
        bot.send_chat_action(1)  # not a message: not paced
        bot.edit_message_text(1, 1, "a2")
        clock.now += 5
        bot.send_message(1, "after a pause: no wait")

    assert clock.sleeps == [1.0, 1.0]
    assert [m["text"] for m in tg.sent_messages(1)] == ["a2", "b", "after a pause: no wait"]


def test_pacing_is_partial_when_time_has_already_passed(tg: FakeTelegram, clock: Clock) -> None:
    bot = TelegramClient(
        tg.token, tg.base_url, sleep=clock.sleep, clock=clock, min_interval_per_chat=2.0
    )

    with bot:
        bot.send_message(1, "a")
        clock.now += 0.5
        bot.send_message(1, "b")

    assert clock.sleeps == [1.5]


# -- helpers and the fake's wire format ----------------------------------------------------------


def test_inline_keyboard_validates_callback_data_bytes() -> None:
    assert inline_keyboard([[("A", "x" * 64)], [("B", "b"), ("C", "c")]]) == {
        "inline_keyboard": [
            [{"text": "A", "callback_data": "x" * 64}],
            [{"text": "B", "callback_data": "b"}, {"text": "C", "callback_data": "c"}],
        ]
    }
    for bad in ("", "x" * 65, "é" * 33):  # "é" is two bytes: 66 bytes
        with pytest.raises(ValueError, match="callback_data must be 1-64 bytes"):
            inline_keyboard([[("A", bad)]])
    with pytest.raises(ValueError, match="text"):
        inline_keyboard([[("", "x")]])


def test_the_fake_accepts_urlencoded_and_query_string_parameters(tg: FakeTelegram) -> None:
    url = f"{tg.base_url}/bot{tg.token}/sendMessage"

    form = httpx.post(url, data={"chat_id": "5", "text": "<b>form</b>", "parse_mode": "HTML"})
    query = httpx.get(url, params={"chat_id": "5", "text": "query"})

    assert form.json()["result"]["text"] == "form"
    assert query.json()["result"]["message_id"] == 2
    assert tg.calls("sendMessage")[0].params["chat_id"] == 5


def test_the_fake_answers_the_bot_api_error_shape(tg: FakeTelegram) -> None:
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    url = f"{tg.base_url}/bot{tg.token}/sendMessage"

    response = httpx.post(url, json={"chat_id": 1, "text": "x"})
    broken = httpx.post(url, json={"chat_id": 1, "text": "<b>x", "parse_mode": "HTML"})

    assert response.status_code == 429
    assert response.json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert broken.status_code == 400
    assert broken.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: can't parse entities: "
        'Can\'t find end tag corresponding to start tag "b"',
    }
