"""Telegram inbound through a real gateway worker: owner filter, commands, callbacks, media,
429, HTML fallback, restart durability."""

from __future__ import annotations

from pathlib import Path

from joelclaw import keys
from joelclaw.events.store import list_events
from tests.gateway.conftest import OWNER, STRANGER, quiet, replies, wait_replies, with_llm
from tests.support import wait_for


def test_owner_text_without_agent_gets_clear_reply(tg, start_gateway) -> None:
    start_gateway()
    tg.push_message(OWNER, OWNER, "hello there")
    [reply] = wait_replies(tg, 1)
    assert "No agent is configured" in reply
    wait_for(lambda: not tg.pending_updates(), message="offset confirmed")


def test_non_owner_is_ignored(tg, start_gateway) -> None:
    _, rt = start_gateway()
    tg.push_message(STRANGER, STRANGER, "let me in")
    tg.push_message(STRANGER, STRANGER, "/status")
    wait_for(lambda: not tg.pending_updates(), message="updates consumed")
    wait_for(lambda: int(rt.redis.hget(keys.GW_STATS, "ignored") or 0) == 2, message="2 ignored")
    quiet(tg, rt)
    assert tg.sent_messages() == []


def test_each_command_is_answered_directly(tg, start_gateway) -> None:
    _, rt = start_gateway()
    expected = {
        "/help": "joelclaw commands", "/status": "; executing ", "/runs": "runs",
        "/health": "Gateway", "/send test/ping {\"n\": 1}": "Sent test/ping",
        "/search ping": "matching", "/sleep": "Sleep mode", "/wake": "Awake",
        "/nope": "Unknown command",
    }
    for i, (command, needle) in enumerate(expected.items(), start=1):
        tg.push_message(OWNER, OWNER, command)
        got = wait_replies(tg, i)
        assert needle.lower() in got[-1].lower(), (command, got[-1])
    assert [e["event"]["data"] for e in list_events(rt.redis, name="test/ping")] == [{"n": 1}]
    assert tg.calls("setMyCommands"), "the command menu is registered at start"


def test_callback_edits_message_and_emits_event(tg, start_gateway) -> None:
    from joelclaw.gateway.outbound import send_text
    from joelclaw.integrations.telegram import TelegramClient

    _, rt = start_gateway()
    with TelegramClient(tg.token, tg.base_url, min_interval_per_chat=0) as client:
        [mid] = send_text(client, OWNER, "Memory proposal p-20260223-002: keep?", buttons=[[
            ("Approve", "memory:approve:p-20260223-002"),
            ("Reject", "memory:reject:p-20260223-002")]])
    assert tg.message(OWNER, mid)["reply_markup"]
    update = tg.push_callback(OWNER, OWNER, mid, "memory:approve:p-20260223-002")
    wait_for(lambda: "reply_markup" not in tg.message(OWNER, mid), message="keyboard removed")
    edited = tg.message(OWNER, mid)
    assert edited["text"].endswith("✅ Approved")
    assert tg.calls("answerCallbackQuery")
    events = wait_for(lambda: list_events(rt.redis, name="telegram/callback.received"),
                      message="callback event")
    event = events[0]["event"]
    assert event["id"] == f"telegram-{update['update_id']}"
    assert event["data"]["raw_data"] == "memory:approve:p-20260223-002"
    assert event["data"]["message_id"] == mid


def test_callback_from_stranger_is_ignored(tg, start_gateway) -> None:
    _, rt = start_gateway()
    tg.push_callback(STRANGER, OWNER, 1, "memory:approve:p-1")
    wait_for(lambda: int(rt.redis.hget(keys.GW_STATS, "ignored") or 0) == 1, message="ignored")
    assert not tg.calls("answerCallbackQuery")


def test_rate_limit_retry_after_is_obeyed(tg, start_gateway) -> None:
    start_gateway()
    # flood control as Telegram's: a send before the second has passed is refused again
    tg.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1,
                 flood=True)
    tg.push_message(OWNER, OWNER, "/help")
    wait_replies(tg, 1)
    sends = tg.calls("sendMessage")  # an early retry would have been a third, refused call
    assert len(sends) == 2 and sends[0].params["text"] == sends[1].params["text"]


def test_invalid_html_falls_back_to_plain_text(tg, start_gateway) -> None:
    start_gateway()
    tg.fail_next("sendMessage", 400, "Bad Request: can't parse entities: Unsupported start "
                 "tag \"x\" at byte offset 0")
    tg.push_message(OWNER, OWNER, "/help")
    [reply] = wait_replies(tg, 1)
    assert "joelclaw commands" in reply
    first, second = tg.calls("sendMessage")
    assert first.params.get("parse_mode") == "HTML"
    assert "parse_mode" not in second.params and "<b>" not in second.params["text"]


def test_media_is_downloaded_and_announced(tg, start_gateway) -> None:
    _, rt = start_gateway()
    update = tg.push_photo(OWNER, OWNER, b"\xff\xd8\xff\xe0a-photo", caption="look")
    message_id = update["message"]["message_id"]
    [record] = wait_for(lambda: list_events(rt.redis, name="media/received"), message="media event")
    event = record["event"]
    assert event["id"] == f"media-telegram-{OWNER}-{message_id}"
    photo = update["message"]["photo"][-1]
    assert event["data"]["media_id"] == photo["file_unique_id"]
    assert event["data"]["media_type"] == "photo" and event["data"]["caption"] == "look"
    assert event["data"]["chat_id"] == OWNER and event["data"]["message_id"] == message_id
    path = event["data"]["path"]
    assert path.startswith(str(rt.settings.home_dir))
    with open(path, "rb") as fh:
        assert fh.read() == b"\xff\xd8\xff\xe0a-photo"


def test_a_document_name_never_leaves_the_media_folder(tg, start_gateway) -> None:
    # Given a forwarded document whose (stranger-chosen) name climbs out of the folder
    _, rt = start_gateway()
    stranger = {"type": "user", "date": 1, "sender_user": {"id": 5, "first_name": "Mallory"}}
    tg.push_document(OWNER, OWNER, b"payload", "../../../escaped.txt",
                     forward_from=stranger)
    [record] = wait_for(lambda: list_events(rt.redis, name="media/received"), message="media")
    # Then it lands inside JOELCLAW_HOME/media/telegram under a plain name, nowhere else
    folder = rt.settings.home_dir / "media" / "telegram"
    path = Path(record["event"]["data"]["path"])
    assert path.parent == folder and path.read_bytes() == b"payload"
    assert record["event"]["data"]["file_name"] == "escaped.txt"
    assert [p.name for p in rt.settings.home_dir.rglob("escaped.txt")] == []
    assert not (rt.settings.home_dir / "escaped.txt").exists()
    assert not (rt.settings.home_dir.parent / "escaped.txt").exists()


def test_a_forwarded_slash_text_is_quoted_data_and_group_commands_answer_privately(
        tg, llm, start_gateway) -> None:
    _, rt = start_gateway(**with_llm(llm))
    # A stranger's "/sleep", forwarded by the owner, is not the owner's command
    stranger = {"type": "user", "date": 1, "sender_user": {"id": 5, "first_name": "Mallory"}}
    tg.push_message(OWNER, OWNER, "/sleep", forward_origin=stranger)
    wait_for(lambda: llm.completions(), message="an agent turn on the quoted text")
    prompt = llm.prompts()[-1]
    assert "Mallory" in prompt and "> /sleep" in prompt and "not the owner's" in prompt
    assert rt.redis.get(keys.GW_MODE) != b"sleep"
    # And the owner's command in a group is answered to the owner alone
    group = -1001234
    tg.push_message(OWNER, group, "/help")
    wait_for(lambda: any("joelclaw commands" in t for t in replies(tg, OWNER)),
             message="/help answered privately")
    assert replies(tg, group) == []


def test_restart_between_receiving_and_replying(tg, llm, start_gateway) -> None:
    """Killed mid-turn: the new gateway replays the message; one reply, no repeat."""
    worker, rt = start_gateway(**with_llm(llm))
    llm.delay = 3.0
    tg.push_message(OWNER, OWNER, "survive a restart")
    wait_for(lambda: llm.completions(), message="the turn started")
    wait_for(lambda: not tg.pending_updates(), message="offset advanced")
    worker.kill_all()
    llm.delay = 0.0
    start_gateway(**with_llm(llm))
    assert wait_replies(tg, 1, timeout=30) == ["echo: survive a restart"]
    assert quiet(tg, rt) == ["echo: survive a restart"]
    tg.push_message(OWNER, OWNER, "still polling?")  # the dead poller's lock lapsed
    assert wait_replies(tg, 2, timeout=15)[1] == "echo: still polling?"


def test_restart_after_reply_does_not_repeat(tg, llm, start_gateway) -> None:
    worker, rt = start_gateway(**with_llm(llm))
    tg.push_message(OWNER, OWNER, "once")
    wait_replies(tg, 1)
    # after the reply *and* its acknowledgement: a stop between the two replays the message
    # (the at-most-one repeat of the message in flight, test_gateway_faults)
    quiet(tg, rt)
    worker.stop()
    _, rt = start_gateway(**with_llm(llm))
    assert quiet(tg, rt) == ["echo: once"]
    assert len(llm.completions()) == 1
    # and the new gateway is polling and draining: a new message is answered after it, once
    tg.push_message(OWNER, OWNER, "twice?")
    assert wait_replies(tg, 2) == ["echo: once", "echo: twice?"]
    assert quiet(tg, rt) == ["echo: once", "echo: twice?"]
    assert len(llm.completions()) == 2


def test_two_gateway_workers_answer_each_message_once(tg, llm, start_gateway) -> None:
    start_gateway(**with_llm(llm))
    _, rt = start_gateway(**with_llm(llm))
    for i in range(3):
        tg.push_message(OWNER, OWNER, f"m{i}")
        wait_replies(tg, i + 1)
    assert quiet(tg, rt) == ["echo: m0", "echo: m1", "echo: m2"]
    assert len(llm.completions()) == 3


def test_webhook_mode_message_event_is_answered(tg, start_gateway) -> None:
    from joelclaw.events.model import Event

    _, rt = start_gateway(telegram_token=tg.token)
    event = {"update_id": 99, "message_id": 5, "chat_id": OWNER, "from_id": OWNER,
             "text": "/help"}
    rt.send(Event(name="telegram/message.received", id="telegram-99", data=event))
    rt.send(Event(name="telegram/message.received", id="telegram-99-retry", data=event))
    [reply] = wait_replies(tg, 1)
    assert "joelclaw commands" in reply
    assert len(quiet(tg, rt)) == 1, "the same update_id is handled once"


def test_webhook_mode_callback_is_answered_and_keyboard_removed(tg, start_gateway) -> None:
    from joelclaw.events.model import Event
    from joelclaw.gateway.outbound import send_text
    from joelclaw.integrations.telegram import TelegramClient

    _, rt = start_gateway()
    with TelegramClient(tg.token, tg.base_url, min_interval_per_chat=0) as client:
        [mid] = send_text(client, OWNER, "Snooze this?", buttons=[[("Snooze", "snooze:k1")]])
    update = tg.push_callback(OWNER, OWNER, mid, "snooze:k1")
    query = update["callback_query"]
    rt.send(Event(name="telegram/callback.received", id=f"telegram-{update['update_id']}",
                  source={"provider": "telegram"},
                  data={"update_id": update["update_id"], "callback_query_id": query["id"],
                        "action": "snooze", "context": "k1", "raw_data": "snooze:k1",
                        "chat_id": OWNER, "message_id": mid, "from_id": OWNER}))
    wait_for(lambda: "reply_markup" not in tg.message(OWNER, mid), message="keyboard removed")
    assert len(tg.calls("answerCallbackQuery")) == 1
