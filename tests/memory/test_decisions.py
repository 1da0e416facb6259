"""Proposals and the decisions on them, on a real Redis, MEMORY.md on disk and the fake
Todoist: ids, promotion, duplicate approvals, unknown ids, rejection, expiry, batch review."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime

import pytest

from joelclaw.integrations.echo import completed_by_system
from joelclaw.memory import decide, reflect, review
from joelclaw.memory.decide import ProposalClosed
from joelclaw.memory.proposals import ProposalNotFound
from joelclaw.memory.service import Memory
from joelclaw.runtime import Runtime
from tests.fakes.llm import FakeLLM
from tests.fakes.todoist import FakeTodoist
from tests.memory.replies import MemoryLLM

TODAY = datetime.now(UTC).strftime("%Y-%m-%d")


@pytest.fixture
def tmem(mem: Memory, todoist: FakeTodoist) -> Memory:
    settings = mem.settings.with_overrides(todoist_token=todoist.token,
                                           todoist_api_url=todoist.base_url)
    return Memory(Runtime(settings))


def test_ids_are_p_date_sequence_and_proposals_stage_in_redis(mem: Memory) -> None:
    now = datetime(2026, 12, 1, 10, tzinfo=UTC).timestamp()
    first = mem.proposals.create("Patterns", "one", now=now)
    second = mem.proposals.create("Joel", "two", now=now)
    assert (first.id, second.id) == ("p-20261201-001", "p-20261201-002")
    assert [p.id for p in mem.proposals.pending()] == [first.id, second.id]
    assert mem.redis.exists("jc:memory:review:proposal:p-20261201-001")


def test_approve_appends_once_and_a_duplicate_approval_is_answered(mem: Memory) -> None:
    proposal = mem.proposals.create("Patterns", "Deploys go out on Tuesdays")
    result = decide.approve(mem, proposal.id, by="cli")
    assert result["status"] == "promoted" and result["appended"]
    again = decide.approve(mem, proposal.id, by="telegram")
    assert again["status"] == "already-promoted" and again["by"] == "cli"
    assert mem.memory_file.read().count("Deploys go out on Tuesdays") == 1
    assert f"- ({TODAY}) Deploys go out on Tuesdays" in mem.memory_file.read()
    assert mem.proposals.pending() == []
    assert "Promoted" in mem.daily.read(TODAY)
    with pytest.raises(ProposalClosed, match="already promoted"):
        decide.reject(mem, proposal.id, by="cli")


def test_an_unknown_proposal_id_is_a_clear_error(mem: Memory) -> None:
    with pytest.raises(ProposalNotFound, match="no proposal 'p-20990101-001'"):
        decide.approve(mem, "p-20990101-001", by="cli")
    with pytest.raises(ProposalNotFound):
        decide.reject(mem, "nope", by="cli")


def test_reject_archives_to_the_daily_log_and_closes_the_review_task(
    tmem: Memory, todoist: FakeTodoist,
) -> None:
    proposal = tmem.proposals.create("Joel", "Joel likes long meetings")
    task_id = review.create_review_task(tmem, proposal)
    assert task_id and todoist.tasks[task_id]["labels"] == ["memory-review", "agent"]
    assert f"Proposal: {proposal.id}" in todoist.tasks[task_id]["description"]
    assert review.create_review_task(tmem, tmem.proposals.require(proposal.id)) == task_id
    decide.reject(tmem, proposal.id, by="telegram", reason="not true")
    log = tmem.daily.read(TODAY)
    assert "### Rejected Proposals" in log and "Joel likes long meetings" in log
    assert todoist.tasks[task_id]["checked"], "the review task is closed"
    assert completed_by_system(tmem.redis, task_id), "and its completion webhook suppressed"
    assert "Joel likes long meetings" not in tmem.memory_file.read()
    assert decide.reject(tmem, proposal.id, by="cli")["status"] == "already-rejected"


def test_proposals_expire_after_seven_days(mem: Memory) -> None:
    old = mem.proposals.create("Patterns", "old idea", now=time.time() - 8 * 86400)
    fresh = mem.proposals.create("Patterns", "new idea")
    assert decide.expire(mem) == [old.id]
    assert mem.proposals.require(old.id).status == "expired"
    assert [p.id for p in mem.proposals.pending()] == [fresh.id]
    assert "### Expired Proposals" in mem.daily.read(TODAY)


def test_triage_routes_each_outcome(tmem: Memory, todoist: FakeTodoist) -> None:
    tmem.memory_file.append("Joel", "Joel runs at dawn", TODAY)
    made = {name: tmem.proposals.create(section, change) for name, section, change in [
        ("dup", "Joel", "Joel runs at dawn"),
        ("llm", "Patterns", "(2026-12-01) Releases use `git tag` then vercel.json (ADR-0101)"),
        ("owner", "Hard Rules", "Never deploy on Fridays"),
    ]}
    outcomes = {name: review.apply_triage(tmem, p.id)["action"] for name, p in made.items()}
    assert outcomes == {"dup": "auto-reject", "llm": "llm-pending", "owner": "needs-review"}
    assert [p.id for p in tmem.proposals.llm_pending()] == [made["llm"].id]
    owner = tmem.proposals.require(made["owner"].id)
    assert owner.status == "needs-review" and owner.todoist_task_id in todoist.tasks
    assert review.apply_triage(tmem, made["dup"].id)["action"] == "none"  # idempotent


def test_batch_review_applies_decisions_and_leaves_unmentioned_ones_queued(
    mem: Memory, llm: FakeLLM,
) -> None:
    ids = [mem.proposals.create("Patterns", f"(2026-12-01) Step {i} uses `git rebase` "
                                            f"(ADR-010{i})").id for i in range(3)]
    for pid in ids:
        mem.proposals.queue_for_llm(pid)
    llm.reply = MemoryLLM(review=lambda user: json.dumps({"decisions": [
        {"id": ids[0], "decision": "promote", "reason": "fine"},
        {"id": ids[1], "decision": "reject", "reason": "vague"},
        {"id": "p-19990101-001", "decision": "promote"}]}))
    result = review.batch_review(mem)
    assert result["reviewed"] == 2 and result["still_queued"] == [ids[2]]
    assert "Step 0" in mem.memory_file.read() and "Step 1" not in mem.memory_file.read()
    assert [p.id for p in mem.proposals.llm_pending()] == [ids[2]]
    prompt = llm.completions()[-1].body["messages"][-1]["content"]
    assert all(pid in prompt for pid in ids)


def test_reflect_reads_seven_days_and_asks_again_when_output_is_longer(
    mem: Memory, llm: FakeLLM,
) -> None:
    mem.redis.rpush(f"jc:memory:observations:{TODAY}", json.dumps(
        {"summary": "- Joel wants webhooks verified", "metadata": {"session_id": "s1"}}))
    long_reply = ("<proposals><proposal><section>Hard Rules</section><change>" + "x" * 500 +
                  "</change></proposal></proposals>")
    short_reply = ("<proposals><proposal><section>Hard Rules</section><change>Verify "
                   "webhooks</change></proposal></proposals>")
    answers = iter([long_reply, long_reply, short_reply])
    llm.reply = MemoryLLM(reflector=lambda user: next(answers))
    result = reflect.reflect(mem)
    assert result.attempts == 3 and result.proposals == [
        {"section": "Hard Rules", "change": "Verify webhooks"}]
    guidance = [m["content"] for m in llm.completions()[-1].body["messages"]]
    assert any("6/10" in text for text in guidance)
    staged = reflect.stage(mem, "run-1", result.proposals)
    assert reflect.stage(mem, "run-1", result.proposals) == staged, "a retried stage reuses"
    assert re.fullmatch(r"p-\d{8}-\d{3}", staged[0]["id"])
    assert len(mem.proposals.pending()) == 1
