"""Bad input gets a clear error or a retry: unknown proposal ids (CLI, events, buttons), a
duplicate approval, a bare button without an id, a session event missing its fields, recall
with no Typesense."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from joelclaw.cli import cli
from joelclaw.config import Settings
from joelclaw.embedded import free_port
from joelclaw.errors import EventError
from joelclaw.events.model import Event
from joelclaw.memory.service import Memory
from joelclaw.runtime import Runtime
from tests.flow_helpers import finished
from tests.memory.replies import MemoryLLM
from tests.support import WorkerProcess, env_for, wait_for


def _cli(settings: Settings, *args: str) -> tuple[int, dict[str, Any]]:
    env = {k: v for k, v in env_for(settings).items() if k.startswith("JOELCLAW_")}
    result = CliRunner().invoke(cli, [*args, "--json"], env=env)
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.stdout)


def test_the_cli_names_an_unknown_or_closed_proposal_and_exits_1(
    mem_settings: Settings, mem: Memory,
) -> None:
    code, out = _cli(mem_settings, "review", "approve", "p-20990101-001")
    assert code == 1 and out["error"]["code"] == "PROPOSAL_NOT_FOUND"
    assert "p-20990101-001" in out["error"]["message"] and "review list" in out["fix"]
    proposal = mem.proposals.create("Joel", "Joel likes tea")
    assert _cli(mem_settings, "review", "reject", proposal.id, "--reason", "no")[0] == 0
    code, out = _cli(mem_settings, "review", "approve", proposal.id)
    assert code == 1 and out["error"]["code"] == "PROPOSAL_CLOSED"
    assert "rejected" in out["error"]["message"]
    code, listed = _cli(mem_settings, "review", "list")
    assert code == 0 and listed["result"]["count"] == 0


def test_review_approve_all_and_expire_from_the_cli(mem_settings: Settings, mem: Memory) -> None:
    import time

    mem.proposals.create("Patterns", "Old pattern", now=time.time() - 9 * 86400)
    mem.proposals.create("Patterns", "Fresh pattern")
    code, expired = _cli(mem_settings, "review", "expire")
    assert code == 0 and expired["result"]["count"] == 1
    code, done = _cli(mem_settings, "review", "approve-all")
    assert code == 0 and done["result"]["count"] == 1
    assert "Fresh pattern" in mem.memory_file.read() and "Old pattern" not in \
        mem.memory_file.read()


def test_recall_without_a_reachable_typesense_says_how_to_fix_it(
    mem_settings: Settings,
) -> None:
    dead = mem_settings.with_overrides(typesense_url=f"http://127.0.0.1:{free_port()}",
                                       typesense_timeout_seconds=0.5)
    code, out = _cli(dead, "recall", "anything", "--no-cache")
    assert code == 1 and out["error"]["code"] == "TYPESENSE_UNAVAILABLE"
    assert "joelclaw up" in out["fix"]
    assert (dead.typesense_api_key or "") not in json.dumps(out)


def test_a_session_event_without_its_fields_is_refused_at_send_time(
    mem_settings: Settings,
) -> None:
    rt = Runtime(mem_settings)
    with pytest.raises(EventError, match=r"dedupe_key|dedupeKey"):
        rt.send(Event(name="memory/session.ended", data={"sessionId": "s"}))
    with pytest.raises(EventError, match=r"proposal_id|proposalId"):
        rt.send(Event(name="memory/proposal.created", data={"proposalId": "nope",
                                                            "section": "x", "change": "y"}))


@pytest.mark.timeout(90)
def test_unknown_ids_and_bare_buttons_fail_clearly_and_duplicates_apply_once(
    worker_factory: Callable[..., WorkerProcess], mem_settings: Settings, mem: Memory,
    memory_llm: MemoryLLM,
) -> None:
    settings = mem_settings.with_overrides(telegram_owner_id=424242)
    worker_factory(settings_override=settings)
    rt = Runtime(settings)

    [run_id] = rt.send(Event(name="memory/proposal.approved",
                             data={"proposalId": "p-20990101-001"}))[0].runs
    run = finished(rt, run_id, 30)
    assert run.status == "failed" and "no proposal 'p-20990101-001'" in run.error["message"]  # type: ignore[index]
    assert run.attempts == 0, "a final error, not retried"

    proposal = mem.proposals.create("Patterns", "Deploy on Tuesdays")
    runs = [rt.send(Event(name="memory/proposal.approved", data={
        "proposalId": proposal.id, "approvedBy": by}))[0].runs[0] for by in ("joel", "telegram")]
    outputs = sorted(finished(rt, r, 30).output["status"] for r in runs)  # type: ignore[index]
    assert outputs == ["already-promoted", "promoted"]
    assert mem.memory_file.read().count("Deploy on Tuesdays") == 1

    def press(data: str, from_id: int = 424242) -> str:
        action, _, context = data.partition(":")
        return rt.send(Event(name="telegram/callback.received", data={
            "update_id": 1, "callback_query_id": "q", "action": action, "context": context,
            "raw_data": data, "chat_id": 424242, "message_id": 5, "from_id": from_id}))[0].runs[0]

    bare = finished(rt, press("memory:approve"), 30)
    assert bare.output["skipped"] == "unknown proposal"  # type: ignore[index]
    stranger = finished(rt, press(f"memory:reject:{proposal.id}", from_id=777), 30)
    assert stranger.output == {"skipped": "not the owner's button press"}
    assert mem.proposals.require(proposal.id).status == "promoted"
    from joelclaw.gateway.service import Gateway

    queued = wait_for(lambda: sum(Gateway(rt).queue.depth().values()), 10,
                      message="the owner told about the bare button")
    assert queued >= 1
