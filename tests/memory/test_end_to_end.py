"""The issue's "done when", with the system's real processes: a worker and the gateway worker
(real Celery processes), the embedded Typesense, Redis, the web app's Todoist webhook route, and
fakes for the LLM, Telegram and Todoist. A `memory/session.ended` becomes observations, recall
finds them, reflect stages proposals, triage sorts them by the rules, an approval by each of
the three paths (Todoist, a Telegram button, the CLI) appends to MEMORY.md, and the owner's next
agent turn carries the recalled memories."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from joelclaw.cli import cli
from joelclaw.config import Settings
from joelclaw.embedded import TypesenseServer
from joelclaw.events.model import Event
from joelclaw.memory.memoryfile import MemoryFile
from joelclaw.memory.proposals import Proposal
from joelclaw.memory.service import Memory
from joelclaw.runtime import Runtime
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.gateway.conftest import OWNER, gateway_settings, wait_replies
from tests.memory.conftest import memory_settings
from tests.memory.replies import MemoryLLM
from tests.support import WorkerProcess, ready_together, wait_for
from tests.webhooks.webhook_support import configured, fixture, sign
from webhooks import create_app

TRANSCRIPT = ("user: from now on verify every webhook signature byte-exact\n"
              "assistant: done; staging was flaky again\nuser: good morning, espresso first")


def _env(settings: Settings) -> dict[str, str]:
    from tests.support import env_for

    return {k: v for k, v in env_for(settings).items() if k.startswith("JOELCLAW_")}


def _cli(settings: Settings, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--json"], env=_env(settings))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] is True, data
    return data["result"]


def _post_todoist_completion(settings: Settings, task: dict[str, Any]) -> dict[str, Any]:
    """What Todoist sends when the owner completes the task, through the real webhook route."""
    raw, headers = fixture("todoist", "item_completed")
    payload = json.loads(raw)
    payload["event_data"].update(id=task["id"], content=task["content"],
                                 description=task["description"], labels=task["labels"],
                                 project_id=task["project_id"])
    body = json.dumps(payload).encode()
    headers = sign("todoist", body, {**headers, "X-Todoist-Delivery-ID": str(uuid.uuid4())})
    app = create_app(configured(settings))
    response = app.test_client().post("/webhooks/todoist", data=body, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _by_section(proposals: list[Proposal]) -> dict[str, Proposal]:
    return {p.section: p for p in proposals}


@pytest.mark.timeout(240)
def test_a_session_ends_up_in_memory_md_and_in_the_next_agent_turn(
    tmp_path: Path, redis_url: str, typesense: TypesenseServer, tg: FakeTelegram,
    todoist: FakeTodoist, worker_factory: Callable[..., WorkerProcess],
) -> None:
    llm = FakeLLM()
    llm.start()
    replies = MemoryLLM()
    llm.reply = replies
    try:
        base = gateway_settings(tmp_path, redis_url, tg)
        settings = memory_settings(tmp_path, redis_url, typesense, llm).with_overrides(
            **{k: getattr(base, k) for k in ("telegram_token", "telegram_api_url",
                                            "telegram_owner_id", "gateway_poll_timeout_seconds",
                                            "gateway_claim_lease_seconds",
                                            "gateway_chat_interval_seconds")},
            todoist_token=todoist.token, todoist_api_url=todoist.base_url)
        ready_together(
            worker_factory(settings_override=settings, concurrency=2, wait=False),
            worker_factory(queues="gateway", concurrency=1, settings_override=settings,
                           wait=False))
        rt = Runtime(settings)
        mem = Memory(rt)
        _run_the_pipeline(settings, rt, mem, tg, todoist, llm, replies)
    finally:
        llm.stop()


def _run_the_pipeline(settings: Settings, rt: Runtime, mem: Memory, tg: FakeTelegram,
                      todoist: FakeTodoist, llm: FakeLLM, replies: MemoryLLM) -> None:
    # Given a coding session that ended
    rt.send(Event(name="memory/session.ended", data={
        "sessionId": "sess-1", "dedupeKey": "sess-1-end", "trigger": "shutdown",
        "messages": TRANSCRIPT, "messageCount": 3, "filesRead": [], "filesModified": []}))

    # Then its facts are observations in Typesense, every verdict kept
    def observed() -> bool:
        done = rt.runs.list(function="memory-observe", status=["completed"])
        return bool(done) and done[0].output["status"] == "observed"

    wait_for(observed, 60, message="the observe run")
    assert mem.store.search.count("memory_observations") == 5

    # And `joelclaw recall` finds them (hybrid: the fake serves embeddings)
    found = _cli(settings, "recall", "webhook", "signature", "byte-exact", "--no-cache")
    assert found["mode"] == "hybrid"
    assert found["hits"][0]["observation"] == (
        "Joel wants every webhook signature verified byte-exact")
    assert all(h["verdict"] == "allow" for h in found["hits"])

    # And reflection (triggered by the accumulated observations) stages four proposals, which
    # triage sorts by the rules
    wait_for(lambda: len(rt.runs.list(function="memory-proposal-triage",
                                      status=["completed"])) == 4, 90,
             message="four proposals triaged")
    reflected = rt.runs.list(function="memory-reflect", status=["completed"])[0]
    assert reflected.output["proposals"] == 4
    staged = [mem.proposals.get(pid) for pid in reflected.output["ids"]]
    actions = {p.section: p.triage_action for p in staged if p is not None}
    assert actions == {"Hard Rules": "needs-review", "System Architecture": "llm-pending",
                       "Joel": "needs-review", "Patterns": "auto-reject"}
    open_ = _by_section(mem.proposals.pending())
    assert set(open_) == {"Hard Rules", "System Architecture", "Joel"}
    rule, architecture, joel = (open_["Hard Rules"], open_["System Architecture"],
                                open_["Joel"])
    assert rule.todoist_task_id and joel.todoist_task_id, "review tasks for the owner"
    assert todoist.tasks[rule.todoist_task_id]["labels"] == ["memory-review", "agent"]

    # When the owner completes the Todoist review task (Todoist's webhook reaches the web app)
    task = todoist.tasks[rule.todoist_task_id]
    task["checked"] = True
    assert _post_todoist_completion(settings, task)["events"] == 1
    memory = MemoryFile(settings.memory_file)
    wait_for(lambda: mem.proposals.require(rule.id).status == "promoted", 30,
             message="the Todoist approval")
    assert "byte-exact before parsing" in memory.read()
    assert mem.proposals.require(rule.id).decided_by == "joel"

    # And presses the Telegram button of the nudge for another
    rt.send(Event(name="memory/review.check"))
    nudge = wait_for(lambda: next((m for m in tg.sent_messages(OWNER)
                                   if f"memory:approve:{joel.id}" in json.dumps(m)), None), 30,
                     message="the nudge with buttons")
    tg.push_callback(OWNER, OWNER, nudge["message_id"], f"memory:approve:{joel.id}")
    wait_for(lambda: mem.proposals.require(joel.id).status == "promoted", 30,
             message="the Telegram approval")
    assert "Linea Mini" in memory.read()
    assert mem.proposals.require(joel.id).decided_by == "telegram"
    wait_for(lambda: todoist.tasks[joel.todoist_task_id]["checked"], 10,  # type: ignore[index]
             message="its review task closed for it")

    # And approves the last one from the CLI
    approved = _cli(settings, "review", "approve", architecture.id)
    assert approved["status"] == "promoted"
    again = _cli(settings, "review", "approve", architecture.id)
    assert again["status"] == "already-promoted"

    # Then MEMORY.md holds the three, each under its section, once
    sections = memory.section_of(memory.read())
    assert len(sections["Hard Rules"]) == 1 and "byte-exact" in sections["Hard Rules"][0]
    assert len(sections["Joel"]) == 1 and "Linea Mini" in sections["Joel"][0]
    assert len(sections["System Architecture"]) == 1 and "ADR-0104" in sections[
        "System Architecture"][0]
    assert mem.proposals.pending() == []

    # And the owner's next agent turn carries the recalled memories
    before = len(tg.sent_messages(OWNER))
    tg.push_message(OWNER, OWNER, "how do we check webhook signatures again?")
    wait_replies(tg, before + 1)
    turn = [c for c in llm.completions()
            if c.body["messages"][0]["content"].startswith("You are joelclaw")][-1]
    system = turn.body["messages"][0]["content"]
    assert "Relevant memory:" in system
    assert "Joel wants every webhook signature verified byte-exact" in system
    lines = [line for line in system.split("Relevant memory:")[1].splitlines() if line.strip()]
    assert 1 <= len(lines) <= 10
