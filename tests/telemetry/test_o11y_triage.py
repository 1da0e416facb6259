"""check-o11y-triage in a real worker over real Typesense: failed telemetry events are grouped
and tiered (patterns, then the LLM for unknowns); tier 3 gets a Todoist task, an agent request
and a Telegram escalation with an `s4h:` button, at most 3 per hour; a repeat inside the dedup
window does nothing; the owner's snooze press edits the escalation and holds the key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from joelclaw import keys
from joelclaw.checks import snooze
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.integrations.typesense import SearchClient
from joelclaw.runtime import Runtime
from joelclaw.telemetry import query, triage
from joelclaw.telemetry.events import TelemetryEvent, emit, flush
from tests.fakes.llm import FakeLLM
from tests.fakes.telegram import FakeTelegram
from tests.fakes.todoist import FakeTodoist
from tests.flow_helpers import finished

OWNER = 424242


def classifier(messages: list[dict[str, str]]) -> str:
    """The tier-2 classifier: 'flux' failures are noise (tier 1)."""
    if triage.LLM_SYSTEM not in messages[0]["content"]:
        return "?"
    lines = messages[-1]["content"].splitlines()
    return "{" + ", ".join(f'"{line.split(":")[0]}": {1 if "flux" in line else 2}'
                           for line in lines) + "}"


def failures(rt: Runtime, round_: int) -> None:
    def fail(component: str, error: str, run: str) -> None:
        emit(rt.redis, TelemetryEvent(level="error", component=component, action="step.failed",
                                      success=False, error=error, run_id=run,
                                      function_id=component), rt.settings)

    for i in range(5):  # five tier-3 bugs, one per component (numbers do not split a key)
        fail(f"svc-{'abcde'[i]}", f"KeyError: 'field' at line {round_ * 10 + i}", f"r{round_}{i}")
    fail("svc-a", f"KeyError: 'field' at line {round_ * 99}", f"r{round_}x")  # same as svc-a
    fail("svc-f", "HTTPStatusError: 429 Too Many Requests", f"r{round_}f")  # tier 1
    fail("svc-g", "ConnectionError: connection refused", f"r{round_}g")  # tier 2
    fail("svc-h", "the flux capacitor wobbled", f"r{round_}h")  # unknown -> LLM -> tier 1


def triage_now(rt: Runtime, tag: str) -> dict[str, Any]:
    run_id = rt.send(Event(name="check/o11y-triage.requested", id=f"o11y-{tag}",
                           data={"source": "test"}))[0].runs[0]
    run = finished(rt, run_id, 60)
    assert run.status == "completed", run.error
    return run.output


@pytest.mark.timeout(150)
def test_tiers_escalation_limit_dedup_and_snooze(
    start: Callable[..., Runtime], llm: FakeLLM, tg: FakeTelegram, todoist: FakeTodoist,
) -> None:
    llm.reply = classifier
    rt = start(telegram_token=tg.token, telegram_api_url=tg.base_url, telegram_owner_id=OWNER,
               todoist_token=todoist.token, todoist_api_url=todoist.base_url,
               o11y_todoist_project_id="agent-work")
    failures(rt, 1)
    out = triage_now(rt, "1")
    assert out["tiers"] == {"1": 2, "2": 1, "3": 5}
    assert out["groups"] == 8 and out["scanned"] == 9
    assert len(out["escalations"]) == 5 and out["limited"] == 2
    assert sum(e["telegram"] for e in out["escalations"]) == 3

    tasks = list(todoist.tasks.values())
    assert len(tasks) == 5 and all(t["project_id"] == "agent-work" for t in tasks)
    assert {t["content"].split()[1] for t in tasks} == {f"svc-{c}" for c in "abcde"}
    requested = list_events(rt.redis, name="system/agent.requested")
    assert len(requested) == 5
    assert all(r["event"]["data"]["request_id"].startswith("o11y-") for r in requested)
    escalations = [m for m in tg.sent_messages(OWNER) if "o11y tier 3" in m.get("text", "")]
    assert len(escalations) == 3, "at most 3 Telegram escalations per hour"
    buttons = [m["reply_markup"]["inline_keyboard"][0][0] for m in escalations]
    assert all(b["callback_data"].startswith("s4h:") for b in buttons)
    svc_a = next(m for m in escalations if "svc-a" in m["text"])
    assert "2x" in svc_a["text"]  # the two svc-a events are one failure

    # The same failures again, inside the dedup window: nothing is filed or sent.
    failures(rt, 2)
    again = triage_now(rt, "2")
    assert again["escalations"] == [] and again["deduplicated"] == 6
    assert len(todoist.tasks) == 5 and len(list_events(rt.redis,
                                                       name="system/agent.requested")) == 5
    assert len([m for m in tg.sent_messages(OWNER) if "o11y tier 3" in m.get("text", "")]) == 3

    # A stranger's press does nothing; the owner's snoozes the key and edits the message.
    key = buttons[0]["callback_data"].split(":", 1)[1]
    message_id = escalations[0]["message_id"]

    def press(who: int, update: int) -> Any:
        run_id = rt.send(Event(name="telegram/callback.received", data={
            "update_id": update, "callback_query_id": f"cb{update}", "action": "s4h",
            "context": key, "raw_data": f"s4h:{key}", "chat_id": OWNER,
            "message_id": message_id, "from_id": who}))[0].runs
        return [finished(rt, r) for r in run_id]

    [stranger] = [r for r in press(777, 1) if r.function == "telegram-callback-received"]
    assert stranger.output == {"skipped": "not the owner's button press"}
    assert not snooze.snoozed(rt.redis, key)
    pressed = press(OWNER, 2)
    assert [r.function for r in pressed] == ["telegram-callback-received"]  # one handler only
    [owner] = pressed
    assert owner.status == "completed" and owner.output["edited"] is True
    search = SearchClient.from_settings(rt.settings)
    flush(rt.redis, search)
    [snoozed] = query.events(search, "triage.snoozed", hours=1)["events"]
    assert snoozed["action"] == "triage.snoozed" and snoozed["metadata"]["dedup_key"] == key
    edited = tg.message(OWNER, message_id)
    assert "Snoozed for 4h (until" in edited["text"] and "o11y tier 3" in edited["text"]
    assert "reply_markup" not in edited
    assert 4 * 3600 - 60 < snooze.snoozed(rt.redis, key) <= 4 * 3600
    rt.redis.delete(keys.o11y_seen(key))  # the dedup window over: still snoozed
    assert triage.fresh(rt, key) is False


def test_dedup_keys_ignore_numbers_and_ids_and_patterns_pick_tiers() -> None:
    a = triage.dedup_key("svc", "step.failed", "KeyError 'x' in run 01J8ZK3 at 12:30:01")
    b = triage.dedup_key("svc", "step.failed", "KeyError 'x' in run 01J8ZK4 at 13:45:59")
    assert a == b and len(a) == 32
    for first, second in [  # the same failure, differing only in what changes per occurrence
        ("AttributeError: 'NoneType' has no 'id' (request 3f2b1c9e-8a7d-4e21-9c3b-5d6e7f8a9b0c)",
         "AttributeError: 'NoneType' has no 'id' (request a41d77f0-02bc-4f9e-b1aa-90c3e6d2f415)"),
        ("timeout on run-1796562438777-4e3a55d7 step fetch", "timeout on run-1796562441021-"
                                                             "b7f0c2aa step fetch"),
        ("no such user usr_8KfJ2mP9 at 0x7f3a9c", "no such user usr_Q1wE4rT7 at 0x7f00aa"),
        ("disk at 91.5% on node7", "disk at 97.25% on node12"),
    ]:
        assert triage.dedup_key("svc", "step.failed", first) == triage.dedup_key(
            "svc", "step.failed", second), (first, second)
    assert triage.dedup_key("svc", "step.failed", "KeyError: 'user'") != triage.dedup_key(
        "svc", "step.failed", "KeyError: 'account'")  # what differs in words still splits
    assert triage.dedup_key("svc2", "step.failed", "KeyError 'x'") != a
    assert triage.classify("HTTPStatusError: 429")[0] == 1
    assert triage.classify("SearchUnavailable: typesense down")[0] == 2
    assert triage.classify("AuthError: 401 unauthorized")[0] == 3
    assert triage.classify("something new") == (2, "unknown")
    assert triage.parse_tiers('sure: {"k1": 3, "k2": 7, "k3": "x"}') == {"k1": 3}


def test_the_scan_reads_failures_of_one_millisecond_in_the_order_they_were_recorded(
    tmp_path, redis_url: str, typesense,
) -> None:
    """Oldest first, ties included: Typesense alone puts the last stored of equal timestamps
    first, so four failures recorded within one millisecond came back newest first and the
    escalation limit went to whichever came last (CI: svc-a, the first, was not escalated)."""
    from tests.conftest import make_settings

    rt = Runtime(make_settings(tmp_path / "home", redis_url, typesense_url=typesense.url,
                               typesense_api_key=typesense.api_key))
    for i, component in enumerate(["svc-a", "svc-b", "svc-c", "svc-d", "svc-e"]):
        emit(rt.redis, TelemetryEvent(level="error", component=component, action="step.failed",
                                      success=False, error="KeyError: 'field'", run_id=f"r{i}",
                                      timestamp=1_700_000_000_000 + (i >= 4)), rt.settings)
    scanned = triage.scan(rt, SearchClient.from_settings(rt.settings),
                          now=1_700_000_000.5 + 60)
    assert [g["component"] for g in scanned["groups"]] == [
        "svc-a", "svc-b", "svc-c", "svc-d", "svc-e"]
    newest = query.events(SearchClient.from_settings(rt.settings), "*", hours=None, limit=5)
    assert [e["component"] for e in newest["events"]] == [
        "svc-e", "svc-d", "svc-c", "svc-b", "svc-a"]

    # One more failure of the newest millisecond, stored after that scan: the next scan finds
    # it, and only it (the cursor's millisecond is read again, its scanned events skipped).
    emit(rt.redis, TelemetryEvent(level="error", component="svc-late", action="step.failed",
                                  success=False, error="KeyError: 'late'", run_id="r9",
                                  timestamp=1_700_000_000_001), rt.settings)
    late = triage.scan(rt, SearchClient.from_settings(rt.settings), now=1_700_000_000.5 + 60)
    assert late["since"] == 1_700_000_000_001 and late["scanned"] == 1
    assert [g["component"] for g in late["groups"]] == ["svc-late"]
    assert triage.scan(rt, SearchClient.from_settings(rt.settings))["scanned"] == 0


@pytest.mark.timeout(60)
def test_without_typesense_the_triage_skips_instead_of_failing(
    tmp_path, redis_url: str, worker_factory,
) -> None:
    from tests.conftest import make_settings
    from tests.telemetry.conftest import MODULES

    settings = make_settings(tmp_path / "home", redis_url, function_modules=MODULES)
    worker_factory(settings_override=settings)
    rt = Runtime(settings)
    out = triage_now(rt, "no-ts")
    assert out == {"skipped": "no Typesense configured (JOELCLAW_TYPESENSE_URL)"}
