"""The agent turn through a real gateway worker and a fake OpenAI-compatible server."""

from __future__ import annotations

import sys
import threading

from joelclaw import keys
from tests.gateway.conftest import OWNER, quiet, wait_replies, with_llm
from tests.support import wait_for


def test_three_rapid_messages_become_one_turn(tg, llm, start_gateway) -> None:
    # The merge window is the owner's pause between messages: a window no busy machine
    # stretches a burst past, so the three always arrive within it
    _, rt = start_gateway(**with_llm(llm), gateway_merge_window_seconds=2.0)
    for text in ("first line", "second line", "third line"):
        tg.push_message(OWNER, OWNER, text)
    [reply] = wait_replies(tg, 1)
    assert reply == "echo: first line\nsecond line\nthird line"
    assert len(quiet(tg, rt)) == 1 and len(llm.completions()) == 1
    assert tg.calls("sendChatAction"), "typing indicator while the turn runs"


def test_history_is_kept_and_sent(tg, llm, start_gateway) -> None:
    start_gateway(**with_llm(llm))
    tg.push_message(OWNER, OWNER, "my name is Joel")
    wait_replies(tg, 1)
    tg.push_message(OWNER, OWNER, "what is my name?")
    wait_replies(tg, 2)
    messages = llm.completions()[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "my name is Joel"


def test_long_reply_arrives_as_three_messages(tg, llm, start_gateway) -> None:
    line = "x" * 99
    llm.reply = lambda messages: "\n".join([line] * 100)  # 10,000 characters with newlines
    _, rt = start_gateway(**with_llm(llm))
    tg.push_message(OWNER, OWNER, "write a lot")
    got = wait_replies(tg, 3)
    assert len(quiet(tg, rt)) == 3
    assert all(len(text) <= 4096 for text in got)
    assert sum(text.count(line) for text in got) == 100


def test_stuck_agent_is_aborted_and_reported(tg, llm, start_gateway) -> None:
    answer = threading.Event()  # the model answers only when the test says so

    def stuck(messages: list[dict[str, str]]) -> str:
        answer.wait(60)
        return "too late"

    llm.reply = stuck
    try:
        start_gateway(**with_llm(llm), gateway_turn_timeout_seconds=2.0)
        tg.push_message(OWNER, OWNER, "think forever")
        [reply] = wait_replies(tg, 1)
        assert "aborted" in reply  # sent while the model was still held: the timeout ended it
        assert len(llm.completions()) == 1
    finally:
        answer.set()


def test_three_failures_without_a_fallback_alert_once(tg, llm, start_gateway) -> None:
    """With no fallback model each failed turn is reported, and the streak alerts once (the
    fallback within the turn: test_gateway_faults)."""
    _, rt = start_gateway(**with_llm(llm))
    llm.fail_next(500, {"error": {"message": "overloaded"}}, times=4)
    # each message is sent once the previous turn answered (a turn of its own, not merged);
    # after the third failure, once its streak alert is out too (the owner's next message
    # would go first: P0)
    for i, answers in enumerate((1, 2, 4, 5)):
        tg.push_message(OWNER, OWNER, f"try {i}")
        got = wait_replies(tg, answers)
    assert [text for text in got if "turn failed" in text and "overloaded" in text] == \
        [got[0], got[1], got[2], got[4]]
    assert "failed 3 turns in a row" in got[3]
    tg.push_message(OWNER, OWNER, "again")
    assert wait_replies(tg, 6)[5] == "echo: again"
    assert llm.completions()[-1].body["model"] == "test-model"
    assert not rt.redis.exists(keys.GW_AGENT_FALLBACK)
    assert sum("turns in a row" in text for text in quiet(tg, rt)) == 1


def test_command_agent_reads_stdin(tg, start_gateway, tmp_path) -> None:
    script = tmp_path / "agent.py"
    script.write_text("import sys\nprint('cmd says: ' + sys.stdin.read().strip().upper())\n")
    start_gateway(agent_command=f"{sys.executable} {script}")
    tg.push_message(OWNER, OWNER, "shout")
    assert wait_replies(tg, 1) == ["cmd says: SHOUT"]


def test_messages_during_a_turn_are_queued_not_dropped(tg, llm, start_gateway) -> None:
    llm.delay = 1.5
    start_gateway(**with_llm(llm))
    tg.push_message(OWNER, OWNER, "slow one")
    wait_for(lambda: llm.completions(), message="turn started")
    tg.push_message(OWNER, OWNER, "/help")
    tg.push_message(OWNER, OWNER, "after")
    got = wait_replies(tg, 3, timeout=30)
    assert got[0] == "echo: slow one"
    assert "joelclaw commands" in got[1]
    assert got[2] == "echo: after"


def test_the_same_owner_text_again_within_30s_is_one_turn(tg, llm, start_gateway) -> None:
    _, rt = start_gateway(**with_llm(llm))
    tg.push_message(OWNER, OWNER, "what's on today?")
    assert wait_replies(tg, 1) == ["echo: what's on today?"]
    tg.push_message(OWNER, OWNER, "what's on today?")  # sent again, the answer already given
    wait_for(lambda: int(rt.redis.hget(keys.GW_STATS, "deduplicated") or 0) == 1, 20,
             message="the repeat dropped")
    tg.push_message(OWNER, OWNER, "and tomorrow?")
    assert wait_replies(tg, 2) == ["echo: what's on today?", "echo: and tomorrow?"]
    assert [c.body["messages"][-1]["content"] for c in llm.completions()] == [
        "what's on today?", "and tomorrow?"]


def test_a_message_naming_an_adr_reaches_the_agent_with_its_text(tg, llm, start_gateway,
                                                                 tmp_path) -> None:
    decisions = tmp_path / "vault" / "docs" / "decisions"
    decisions.mkdir(parents=True)
    (decisions / "0104-gateway-priority-queue.md").write_text(
        "# ADR-0104: gateway priority queue\n\nP0 owner, P1 failures, P2 default, P3 probes.\n")
    (decisions / "0112-unified-cache.md").write_text("# ADR-0112: cache\n")
    start_gateway(**with_llm(llm), vault_dir=str(tmp_path / "vault"))
    tg.push_message(OWNER, OWNER, "what's in ADR-0104?")
    wait_replies(tg, 1)
    prompt = llm.completions()[-1].body["messages"][-1]["content"]
    assert prompt.startswith("what's in ADR-0104?")
    assert "P0 owner, P1 failures, P2 default, P3 probes." in prompt
    assert "docs/decisions/0104-gateway-priority-queue.md" in prompt
    assert "ADR-0112" not in prompt  # only what the message names
