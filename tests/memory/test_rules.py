"""The pure rules of memory: observer parsing and sanitizing, the write gate and categories,
the seven triage rules in order, the reflector and review reply formats."""

from __future__ import annotations

import time

import pytest

from joelclaw.memory.gate import categorize, resolve_write_gate, split_annotation
from joelclaw.memory.observer import ObserverReplyError, parse, sanitize
from joelclaw.memory.proposals import Proposal
from joelclaw.memory.reflect import ReflectorReplyError
from joelclaw.memory.reflect import parse as parse_proposals
from joelclaw.memory.review import ReviewReplyError, parse_decisions
from joelclaw.memory.text import jaccard, similarity
from joelclaw.memory.triage import triage
from tests.memory.replies import OBSERVER_XML


def test_the_observer_reply_becomes_gated_categorized_facts() -> None:
    observed = parse(OBSERVER_XML)
    by_text = {f.text: f for f in observed.facts}
    rule = by_text["Joel wants every webhook signature verified byte-exact"]
    assert (rule.verdict, rule.confidence, rule.importance) == ("allow", 0.92, "high")
    assert (rule.category_id, rule.category_source, rule.fallback) == (
        "jc:rules-conventions", "llm", False)
    assert by_text["The staging cluster was flaky during the session"].verdict == "hold"
    assert by_text["Joel said good morning"].verdict == "discard"
    plain = by_text["Joel prefers espresso from the Linea Mini before deep work"]
    assert (plain.verdict, plain.confidence, plain.reason, plain.fallback) == (
        "allow", 0.35, "parse_fallback", True)
    assert plain.category_id == "jc:preferences" and plain.category_source == "rules"
    narrative = [f for f in observed.facts if f.observation_type == "segment_narrative"]
    assert len(narrative) == 1 and observed.structured


def test_tool_call_xml_and_tool_ids_are_sanitized_out() -> None:
    reply = ("<tool_call>{\"name\": \"read\"}</tool_call><function_calls><invoke name=\"x\">"
             "<parameter name=\"p\">secret</parameter></invoke></function_calls>"
             + OBSERVER_XML.replace("Joel said good morning", "Joel said toolu_01AbC good"))
    observed = parse(reply)
    texts = " ".join(f.text for f in observed.facts)
    assert "toolu_" not in texts and "secret" not in texts and "invoke" not in texts
    assert "tool_call" not in sanitize("<tool_call>x</tool_call>")


def test_a_reply_without_xml_keeps_its_bullets_through_the_fallback() -> None:
    observed = parse("Here is what I noticed:\n- Joel ships on Fridays\n* Redis runs noeviction")
    assert [f.text for f in observed.facts] == ["Joel ships on Fridays",
                                                "Redis runs noeviction"]
    assert not observed.structured and all(f.reason == "parse_fallback" for f in observed.facts)


@pytest.mark.parametrize("reply", ["", "I could not find anything.",
                                   "<observations></observations>",
                                   "<tool_call>only tools</tool_call>"])
def test_a_reply_with_no_observation_is_a_clear_error(reply: str) -> None:
    with pytest.raises(ObserverReplyError, match="holds no observation"):
        parse(reply)


@pytest.mark.parametrize("annotation", [None, "gate=maybe confidence=0.9", "gate=allow",
                                        "gate=hold confidence=1.7", "gate=hold confidence=x"])
def test_a_missing_or_invalid_annotation_is_allow_035_parse_fallback(
    annotation: str | None,
) -> None:
    gate = resolve_write_gate(annotation)
    assert (gate.verdict, gate.confidence, gate.reason, gate.fallback) == (
        "allow", 0.35, "parse_fallback", True)


def test_the_llm_category_wins_only_at_confidence_065() -> None:
    text, annotation = split_annotation(
        "Redis runs noeviction [gate=allow confidence=0.6 category=jc:preferences reason=x y]")
    gate = resolve_write_gate(annotation)
    assert text == "Redis runs noeviction" and gate.reason == "x y"
    assert categorize(text, gate)[2] == "rules"  # 0.6 < 0.65: the rules decide
    assert categorize(text, gate)[0] == "jc:system-architecture"
    sure = resolve_write_gate("gate=allow confidence=0.65 category=jc:preferences reason=r")
    assert categorize(text, sure) == ("jc:preferences", 0.65, "llm")


def _p(change: str, section: str = "Patterns", pid: str = "p-20261201-001",
       status: str = "pending") -> Proposal:
    return Proposal(id=pid, date="2026-12-01", section=section, change=change,
                    captured_at=time.time(), status=status)  # type: ignore[arg-type]


SPECIFIC = "(2026-12-01) Deploys run `git push` then check vercel.json (ADR-0104)"


@pytest.mark.parametrize(("change", "section", "action", "rule"), [
    ("   ", "Patterns", "auto-reject", 1),
    ("Add after the webhook section: a line", "Patterns", "auto-reject", 2),
    ("Update the hard rules with (2026-12-01) git push details", "Patterns", "auto-reject", 2),
    ("- (2026-11-30) Leaked bullet text", "Patterns", "auto-reject", 3),
    (SPECIFIC, "System Architecture", "llm-pending", 6),
    (SPECIFIC, "Patterns", "llm-pending", 6),
    (SPECIFIC, "Hard Rules", "needs-review", 7),  # not an auto-promote section
    (SPECIFIC.replace("Deploys run", "Deploys should run"), "Patterns", "needs-review", 7),
    (SPECIFIC.replace("(2026-12-01) ", ""), "Patterns", "needs-review", 7),  # no date
    ("(2026-12-01) Deploys are careful", "Patterns", "needs-review", 7),  # nothing specific
])
def test_triage_rules_apply_in_order(change: str, section: str, action: str, rule: int) -> None:
    decision = triage(_p(change, section), [], [])
    assert (decision.action, decision.rule) == (action, rule), decision.reason


def test_triage_rule_4_rejects_what_memory_md_already_says() -> None:
    bullets = ["Joel prefers espresso from the Linea Mini before deep work"]
    decision = triage(_p("Joel prefers espresso from the Linea Mini before deep work!"),
                      bullets, [])
    assert (decision.action, decision.rule) == ("auto-reject", 4)


def test_triage_rule_5_merges_a_longer_duplicate_and_rejects_a_shorter_one() -> None:
    other = _p("Joel prefers espresso from the Linea Mini before deep work", pid="p-1")
    longer = _p("Joel prefers espresso from the Linea Mini before deep work sessions", pid="p-2")
    decision = triage(longer, [], [other])
    assert (decision.action, decision.merge_with, decision.rule) == ("auto-merge", "p-1", 5)
    shorter = _p("Joel prefers espresso from the Linea Mini before deep wor", pid="p-3")
    assert triage(shorter, [], [other]).action == "auto-reject"
    closed = _p(other.change, pid="p-4", status="rejected")
    assert triage(longer, [], [closed]).action == "needs-review"


def test_text_measures() -> None:
    assert jaccard("a b c", "c b a") == 1.0 and jaccard("a b", "c d") == 0.0
    assert similarity("Hello, World", "hello world") == 1.0
    assert similarity("abc", "xyz") == 0.0


def test_reflector_replies_in_xml_or_json_keep_only_the_six_sections() -> None:
    xml = ("<proposals><proposal><section>patterns</section><change>A  b</change></proposal>"
           "<proposal><section>Random</section><change>x</change></proposal></proposals>")
    assert parse_proposals(xml) == ([{"section": "Patterns", "change": "A b"}], 1)
    assert parse_proposals("<proposals/>") == ([], 0)
    as_json = '```json\n{"proposals": [{"section": "Joel", "change": "c"}]}\n```'
    assert parse_proposals(as_json) == ([{"section": "Joel", "change": "c"}], 0)
    with pytest.raises(ReflectorReplyError):
        parse_proposals("no idea")


def test_review_decisions_json_is_parsed_and_garbage_is_an_error() -> None:
    reply = 'Sure! {"decisions": [{"id": "p-1", "decision": "promote", "reason": "ok"}, ' \
            '{"id": "p-2", "decision": "maybe"}]} hope that helps'
    assert parse_decisions(reply) == [{"id": "p-1", "decision": "promote", "reason": "ok"}]
    assert parse_decisions('[{"id": "p-3", "decision": "reject"}]')[0]["decision"] == "reject"
    with pytest.raises(ReviewReplyError):
        parse_decisions("I approve them all")
