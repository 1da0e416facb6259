"""The memory functions in real worker processes: observe with its dedupe lock, the LLM timing
out or answering nonsense, Typesense down, and the pipeline's events."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from joelclaw.config import Settings
from joelclaw.embedded import free_port
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.memory.service import Memory
from joelclaw.runtime import Runtime
from tests.fakes.llm import FakeLLM
from tests.flow_helpers import finished
from tests.memory.replies import OBSERVER_XML, MemoryLLM
from tests.support import WorkerProcess, wait_for

TRANSCRIPT = ("user: let's verify every webhook signature byte-exact from now on\n"
              "assistant: done, and the staging cluster was flaky again\n"
              "user: good morning! espresso first, as always")


def session(key: str = "d1", trigger: str = "shutdown", **extra: Any) -> Event:
    return Event(name="memory/session.ended", data={
        "sessionId": f"s-{key}", "dedupeKey": key, "trigger": trigger, "messages": TRANSCRIPT,
        "messageCount": 3, "userMessageCount": 2, "filesRead": ["webhooks/routes.py"],
        "filesModified": [], "capturedAt": "2026-12-01T10:00:00Z", "schemaVersion": 1, **extra})


def observe_run(rt: Runtime, event: Event) -> str:
    result = rt.send(event)[0]
    return next(r for r in result.runs if rt.runs.get(r).function == "memory-observe")  # type: ignore[union-attr]


def count(mem: Memory) -> int:
    if mem.store.search.collection("memory_observations") is None:
        return 0
    return mem.store.search.count("memory_observations")


@pytest.fixture
def start(worker_factory: Callable[..., WorkerProcess], mem_settings: Settings
          ) -> Callable[..., Runtime]:
    def go(**overrides: Any) -> Runtime:
        settings = mem_settings.with_overrides(**overrides) if overrides else mem_settings
        worker_factory(settings_override=settings)
        return Runtime(settings)

    return go


@pytest.mark.timeout(90)
def test_a_session_becomes_observations_once_and_a_repeat_is_deduplicated(
    start: Callable[..., Runtime], memory_llm: MemoryLLM, mem: Memory,
) -> None:
    rt = start()
    run = finished(rt, observe_run(rt, session()), 45)
    assert run.status == "completed", run.error
    assert run.output["status"] == "observed" and len(run.output["inserted"]) == 5
    stored = mem.store.search.search("memory_observations", {"q": "*", "per_page": 10,
                                                             "exclude_fields": "embedding"})
    verdicts = sorted(h["document"]["write_verdict"] for h in stored["hits"])
    assert verdicts == ["allow", "allow", "allow", "discard", "hold"]
    log = mem.daily.read(time.strftime("%Y-%m-%d", time.gmtime()))
    assert log.count("<!-- session:d1 -->") == 1
    accumulated = list_events(rt.redis, name="memory/observations.accumulated")
    assert len(accumulated) == 1 and accumulated[0]["event"]["data"]["observation_count"] == 1

    repeat = finished(rt, observe_run(rt, session(note="sent again")), 30)
    assert repeat.output == {"status": "deduplicated", "dedupe_key": "d1"}
    assert memory_llm.calls["observer"] == 1 and count(mem) == 5
    assert len(list_events(rt.redis, name="memory/observations.accumulated")) == 1


@pytest.mark.timeout(60)
def test_backfill_observes_but_emits_no_accumulated_event(
    start: Callable[..., Runtime], memory_llm: MemoryLLM,
) -> None:
    rt = start()
    run = finished(rt, observe_run(rt, session("bf-1", trigger="backfill")), 45)
    assert run.status == "completed" and run.output["status"] == "observed"
    assert list_events(rt.redis, name="memory/observations.accumulated") == []


@pytest.mark.timeout(90)
def test_an_llm_that_times_out_is_retried_and_nothing_is_lost(
    start: Callable[..., Runtime], llm: FakeLLM, mem: Memory,
) -> None:
    slow = {"left": 1}
    released = threading.Event()  # the first answer is held until the test is done with it

    def observer(user: str) -> str:
        if slow["left"]:
            slow["left"] -= 1
            released.wait(60)  # well past the client's 1 s timeout
        return OBSERVER_XML

    replies = MemoryLLM(observer=observer)
    llm.reply = replies
    try:
        rt = start(memory_llm_timeout_seconds=1.0)
        run = finished(rt, observe_run(rt, session("slow")), 60)
    finally:
        released.set()
    assert run.status == "completed", run.error
    assert replies.calls["observer"] == 2, "the timed-out call was made again"
    assert count(mem) == 5


@pytest.mark.timeout(90)
def test_a_malformed_observer_reply_is_retried_then_fails_clearly_and_frees_the_session(
    start: Callable[..., Runtime], llm: FakeLLM, mem: Memory,
) -> None:
    replies = MemoryLLM(observer="Sorry, I can't help with that.")
    llm.reply = replies
    rt = start()
    run = finished(rt, observe_run(rt, session("bad")), 60)
    assert run.status == "failed"
    assert "holds no observation" in run.error["message"]  # type: ignore[index]
    assert replies.calls["observer"] >= 2, "the step was retried"
    assert count(mem) == 0
    wait_for(lambda: not mem.redis.exists("jc:lock:memory:observe:bad"), 20,
             message="the failed run's dedupe lock released")
    replies.observer = OBSERVER_XML  # the model behaves again: the same session goes through
    again = finished(rt, observe_run(rt, session("bad", note="resent")), 45)
    assert again.status == "completed" and count(mem) == 5


@pytest.mark.timeout(120)
def test_typesense_down_fails_the_store_step_clearly_and_a_rerun_keeps_the_llm_answer(
    worker_factory: Callable[..., WorkerProcess], mem_settings: Settings,
    memory_llm: MemoryLLM, mem: Memory,
) -> None:
    from joelclaw.bus.control import rerun_run

    down = mem_settings.with_overrides(typesense_url=f"http://127.0.0.1:{free_port()}")
    first_worker = worker_factory(settings_override=down)
    rt = Runtime(down)
    run = finished(rt, observe_run(rt, session("ts-down")), 60)
    assert run.status == "failed"
    assert "Typesense" in run.error["message"] or "typesense" in run.error["message"]  # type: ignore[index]
    failed_step = next(s for s in rt.runs.steps(run.id) if s.status == "failed")
    assert failed_step.key.startswith("store-to-typesense")
    first_worker.stop()

    worker_factory(settings_override=mem_settings)  # Typesense is back
    live = Runtime(mem_settings)
    rerun = finished(live, rerun_run(live, run.id).id, 60)
    assert rerun.status == "completed", rerun.error
    assert memory_llm.calls["observer"] == 1, "the observer's answer was reused, not re-asked"
    assert count(mem) == 5


@pytest.mark.timeout(90)
def test_only_the_owner_completing_a_review_task_approves_it(
    start: Callable[..., Runtime], mem: Memory,
) -> None:
    # Given a proposal and its review task in a project the owner shares with a collaborator
    rt = start()
    proposal = mem.proposals.create("Patterns", "Deploy on Tuesdays")
    task = {"task_id": "t-review", "task_content": f"Memory: Patterns ({proposal.id})",
            "task_description": f"Proposal: {proposal.id}", "labels": ["memory-review"],
            "user_id": "u-owner"}

    def complete(by: str, delivery: str) -> Any:
        [sent] = rt.send(Event(name="todoist/task.completed", id=delivery,
                               data={**task, "initiator_id": by}))
        [run_id] = [r for r in sent.runs
                    if rt.runs.get(r).function == "memory-todoist-review-bridge"]  # type: ignore[union-attr]
        return finished(rt, run_id, 30)

    # When the collaborator completes it (the proposal id is guessable): nothing is decided
    stranger = complete("u-collaborator", "todoist-d-1")
    assert stranger.output["skipped"].startswith("not done by the owner")
    assert not list_events(rt.redis, name="memory/proposal.approved")
    assert mem.proposals.require(proposal.id).status != "promoted"
    # And when the owner does, it is approved
    owner = complete("u-owner", "todoist-d-2")
    assert owner.output == {"proposal_id": proposal.id, "decision": "approved"}
