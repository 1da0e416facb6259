"""Approvals with real workers, the gateway and the fake Telegram: a run that asks resumes on
the owner's button; a stranger's press does nothing; a learned category is approved at once;
no answer is a denial; and `joelclaw approvals` lists, approves, denies and shows history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from joelclaw import keys
from joelclaw.agents.approvals import Approvals, parse_button
from joelclaw.cli import cli
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.gateway.conftest import OWNER, STRANGER
from tests.support import wait_for


def _ask(rt: Runtime, rid: str, category: str = "git-push", agent: str = "codex") -> str:
    [sent] = rt.send(Event(name="test/needs-approval",
                           data={"rid": rid, "category": category, "agent": agent}))
    return sent.runs[0]


def _approval_message(tg, rid: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for message in tg.sent_messages(OWNER):
            markup = json.dumps(message.get("reply_markup") or {})
            if f"apr:{rid}:approve" in markup:
                return message
        return None

    return wait_for(found, 30, message=f"the approval message of {rid}")


def _result(rt: Runtime, run_id: str) -> Any:
    wait_for(lambda: rt.runs.status(run_id) == "completed", 30, message="the requester resumed")
    return rt.runs.get(run_id).output


def test_the_owners_button_resumes_the_waiting_run(tg, start_system) -> None:
    rt = start_system()
    run_id = _ask(rt, "r1")
    message = _approval_message(tg, "r1")
    assert "codex wants to push to main" in message["text"] and "git-push" in message["text"]
    assert Approvals(rt.redis).get("r1")["agent"] == "codex"
    assert rt.runs.status(run_id) == "waiting"
    tg.push_callback(OWNER, OWNER, message["message_id"], "apr:r1:approve")
    assert _result(rt, run_id) == {"status": "approved", "reviewer": "telegram"}
    wait_for(lambda: "reply_markup" not in tg.message(OWNER, message["message_id"]),
             message="buttons removed")
    assert tg.message(OWNER, message["message_id"])["text"].endswith("✅ Approved")
    approvals = Approvals(rt.redis)
    assert approvals.get("r1") is None
    [done] = wait_for(approvals.history, message="history recorded")
    assert done["request_id"] == "r1" and done["status"] == "approved"
    assert done["reviewer"] == "telegram"
    assert approvals.categories() == []


def test_a_strangers_press_does_nothing_and_deny_resumes_with_denied(tg, start_system) -> None:
    rt = start_system()
    run_id = _ask(rt, "r2")
    message = _approval_message(tg, "r2")
    ignored = int(rt.redis.hget(keys.GW_STATS, "ignored") or 0)
    tg.push_callback(STRANGER, OWNER, message["message_id"], "apr:r2:approve")
    wait_for(lambda: int(rt.redis.hget(keys.GW_STATS, "ignored") or 0) == ignored + 1,
             message="the press ignored")
    wait_for(lambda: not tg.pending_updates(), message="update consumed")
    assert rt.runs.status(run_id) == "waiting"
    assert Approvals(rt.redis).get("r2") is not None
    tg.push_callback(OWNER, OWNER, message["message_id"], "apr:r2:deny")
    assert _result(rt, run_id) == {"status": "denied", "reviewer": "telegram"}


def test_a_press_event_not_from_the_owner_is_skipped(tg, start_system) -> None:
    """Defence in depth: a callback event that names someone else resolves nothing."""
    rt = start_system(gateway=False)
    run_id = _ask(rt, "r5")
    wait_for(lambda: Approvals(rt.redis).get("r5"), message="pending")
    [sent] = rt.send(Event(name="telegram/callback.received", data={
        "update_id": 1, "callback_query_id": "q1", "action": "apr", "context": "r5:approve",
        "raw_data": "apr:r5:approve", "from_id": STRANGER, "chat_id": OWNER}))
    press = sent.runs[0]
    wait_for(lambda: rt.runs.status(press) == "completed", message="press handled")
    assert rt.runs.get(press).output == {"skipped": "not the owner's button press"}
    assert rt.runs.status(run_id) == "waiting"


def test_learn_adds_the_category_and_the_next_request_is_auto_approved(tg, start_system
                                                                       ) -> None:
    rt = start_system()
    first = _ask(rt, "r3", category="run-tests")
    message = _approval_message(tg, "r3")
    tg.push_callback(OWNER, OWNER, message["message_id"], "apr:r3:learn")
    assert _result(rt, first) == {"status": "approved", "reviewer": "telegram"}
    approvals = Approvals(rt.redis)
    wait_for(lambda: approvals.learned("codex", "run-tests"), message="category learned")
    second = _ask(rt, "r4", category="run-tests")
    assert _result(rt, second) == {"status": "approved", "reviewer": "auto"}
    assert not any("apr:r4:" in json.dumps(m.get("reply_markup") or {})
                   for m in tg.sent_messages(OWNER))
    other_agent = _ask(rt, "r6", category="run-tests", agent="claude")
    _approval_message(tg, "r6")  # learned for codex only
    assert rt.runs.status(other_agent) == "waiting"


def test_no_answer_in_time_is_a_denial(tg, start_system) -> None:
    rt = start_system(gateway=False, approval_timeout_seconds=1)
    run_id = _ask(rt, "r7")
    assert _result(rt, run_id) == {"status": "denied", "reviewer": "timeout"}
    [done] = wait_for(lambda: Approvals(rt.redis).history(), message="history")
    assert done["status"] == "denied" and done["reviewer"] == "timeout"


def test_button_data_parsing() -> None:
    assert parse_button("r1:approve") == ("r1", "approved", False)
    assert parse_button("r1:learn") == ("r1", "approved", True)
    assert parse_button("r.x-1:deny") == ("r.x-1", "denied", False)
    assert parse_button("r1:maybe") is None and parse_button(":approve") is None


# ---- the CLI ------------------------------------------------------------------------------

@pytest.fixture
def approvals_cli(tmp_path: Path):
    runner = CliRunner()

    def run(rt: Runtime, *args: str) -> tuple[int, dict[str, Any]]:
        env = {"JOELCLAW_REDIS_URL": rt.settings.redis_url or "",
               "JOELCLAW_HOME": str(tmp_path / "cli-home"),
               "JOELCLAW_FUNCTION_MODULES": "tests.functions,tests.agents.agentfunctions"}
        result = runner.invoke(cli, ["approvals", *args], env=env)
        assert "Traceback" not in result.output
        if "--text" in args:
            return result.exit_code, {"text": result.stdout}
        return result.exit_code, json.loads(result.stdout)

    return run


def test_cli_lists_approves_denies_and_shows_history(tg, start_system, approvals_cli) -> None:
    rt = start_system(gateway=False)
    approve_run, deny_run = _ask(rt, "c1", category="deploy"), _ask(rt, "c2")
    wait_for(lambda: len(Approvals(rt.redis).pending()) == 2, message="two pending")
    code, listing = approvals_cli(rt, "list")
    assert code == 0 and listing["ok"] and listing["command"] == "joelclaw approvals list"
    assert sorted(p["request_id"] for p in listing["result"]["pending"]) == ["c1", "c2"]

    code, shown = approvals_cli(rt, "list", "--text")
    assert code == 0 and "c1" in shown["text"] and "deploy" in shown["text"]

    code, approved = approvals_cli(rt, "approve", "c1", "--learn")
    assert code == 0 and approved["result"]["status"] == "approved"
    assert _result(rt, approve_run) == {"status": "approved", "reviewer": "cli"}
    code, denied = approvals_cli(rt, "deny", "c2", "--reason", "not today")
    assert code == 0 and denied["result"]["status"] == "denied"
    assert _result(rt, deny_run) == {"status": "denied", "reviewer": "cli"}

    wait_for(lambda: len(Approvals(rt.redis).history()) == 2, message="both resolved")
    code, history = approvals_cli(rt, "history")
    assert code == 0
    rows = {h["request_id"]: h for h in history["result"]["history"]}
    assert {(h["request_id"], h["status"], h["reviewer"]) for h in rows.values()} == {
        ("c2", "denied", "cli"), ("c1", "approved", "cli")}
    assert rows["c2"]["reason"] == "not today"
    code, categories = approvals_cli(rt, "categories")
    assert code == 0
    assert [(c["agent"], c["category"]) for c in categories["result"]["categories"]] == [
        ("codex", "deploy")]
    for view in ("history", "categories"):
        code, shown = approvals_cli(rt, view, "--text")
        assert code == 0 and "deploy" in shown["text"]
    code, forgot = approvals_cli(rt, "categories", "--forget", "codex", "deploy")
    assert code == 0 and forgot["result"]["categories"] == []

    code, missing = approvals_cli(rt, "approve", "c1")
    assert code == 1 and missing["ok"] is False
    assert missing["error"]["code"] == "APPROVAL_NOT_FOUND"
    code, missing = approvals_cli(rt, "categories", "--forget", "codex", "deploy")
    assert code == 1 and missing["error"]["code"] == "APPROVAL_CATEGORY_NOT_FOUND"
