"""What `joelclaw forget` looks for and how it rewrites what it finds (no services needed)."""

from __future__ import annotations

import json

from joelclaw import provenance
from joelclaw.forget.needles import Target, string_leaves
from joelclaw.memory.dailylog import split_entries


def test_an_events_machine_values_are_not_looked_for_elsewhere() -> None:
    target = Target([], {"e-1"}, {"r-1"})
    for text in string_leaves({"status": "completed", "kind": "todoist/task.added",
                               "ok": "yes", "who": "Ada Lovelace", "mail": "ada@example.org"}):
        target.add_text(text)
    assert target.holds("met ADA LOVELACE today") and target.holds("from ada@example.org")
    assert not target.holds("the run completed") and not target.holds("todoist/task.added")


def test_a_person_is_a_whole_word_and_case_does_not_matter() -> None:
    target = Target.of_text("okafor", whole_word=True)
    assert target.holds("Dr Okafor called") and not target.holds("Okafors garden")


def test_rewriting_keeps_json_valid_and_finds_provenance() -> None:
    target = Target.of_text("secret plan")
    target.events, target.stub = {"e-9"}, "[forgotten fg-1: asked]"
    value = {"a": ["the Secret Plan is here", 3], "b": {"c": "unrelated"}}
    assert json.loads(target.rewrite_text(json.dumps(value)) or "") == {
        "a": ["[forgotten fg-1: asked]", 3], "b": {"c": "unrelated"}}
    assert target.rewrite_text("plain secret plan text") is None  # not JSON: dropped whole
    assert target.touches(json.dumps({"v": 1, "prov": {"event": "e-9", "run": "x"}}))
    assert target.touches(json.dumps({"deep": [{"event_id": "e-9"}]}))
    assert not target.touches(json.dumps({"prov": {"event": "e-8"}}))


def test_provenance_comments_round_trip_and_daily_entries_split_back_whole() -> None:
    with provenance.within("e-1", "r-1", "log", "fn"):
        tail = provenance.comment()
    assert provenance.current() is None and tail == " <!-- prov event=e-1 run=r-1 step=log -->"
    line = "- (2026-12-06) a rule" + tail
    assert provenance.parse_comment(line) == {"event": "e-1", "run": "r-1", "step": "log"}
    assert provenance.strip_comment(line) == "- (2026-12-06) a rule"
    day = ("# 2026-12-06\n\n<!-- a -->\n<!-- prov event=e-1 -->\n- one\n\n<!-- b -->\n- two\n")
    chunks = split_entries(day)
    assert "".join(chunks) == day and len(chunks) == 3 and "- one" in chunks[1]
