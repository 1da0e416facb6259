"""The observer: a transcript in, facts out, through the one LLM client.

The reply is XML (reference §5.1): segments with a narrative and prefixed, annotated facts.

    <observations>
      <segment>
        <narrative>Worked on the webhook server.</narrative>
        <facts>
        - 🔴 Joel wants webhooks verified byte-exact [gate=allow confidence=0.9
          category=jc:rules-conventions reason=explicit rule]
        </facts>
      </segment>
    </observations>

Tool-call XML and `toolu_` ids that models echo from transcripts are removed before parsing.
A reply without the XML still yields its bulleted lines (each through the write gate's
fallback); a reply with no fact at all is an ObserverReplyError, which the step retries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from joelclaw.errors import JoelclawError
from joelclaw.integrations.llm import LLMClient
from joelclaw.memory.gate import categorize, resolve_write_gate, split_annotation
from joelclaw.memory.model import Fact

TRANSCRIPT_LIMIT = 60_000  # characters of the session kept (the tail: where it ended up)
_TOOL_BLOCKS = re.compile(
    r"<(tool_call|tool_use|tool_result|function_calls|function_results|invoke|parameter|"
    r"antml:[a-z_]+)\b[^>]*>.*?</\1>", re.DOTALL | re.IGNORECASE)
_TOOL_TAGS = re.compile(
    r"</?(tool_call|tool_use|tool_result|function_calls|function_results|invoke|parameter)"
    r"\b[^>]*>", re.IGNORECASE)
_TOOLU = re.compile(r"\btoolu_[A-Za-z0-9_]+\b")
_SEGMENT = re.compile(r"<segment\b[^>]*>(.*?)</segment>", re.DOTALL | re.IGNORECASE)
_NARRATIVE = re.compile(r"<narrative\b[^>]*>(.*?)</narrative>", re.DOTALL | re.IGNORECASE)
_FACTS = re.compile(r"<facts\b[^>]*>(.*?)</facts>", re.DOTALL | re.IGNORECASE)
_OBSERVATIONS = re.compile(r"<observations\b[^>]*>(.*?)</observations>",
                           re.DOTALL | re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s*")
IMPORTANCE = {"🔴": "high", "🟡": "medium", "🟢": "low"}

SYSTEM = """You are the observer of a personal AI assistant's memory. Read the session \
transcript and extract what is worth remembering about the owner (Joel), their projects, rules, \
preferences, people and systems. Answer ONLY with this XML:
<observations>
<segment>
<narrative>one or two sentences on what this part of the session was about</narrative>
<facts>
- 🔴|🟡|🟢 one self-contained fact per line [gate=allow|hold|discard confidence=0.0-1.0 \
category=jc:memory-system|jc:operations|jc:people-relationships|jc:preferences|jc:projects|\
jc:rules-conventions|jc:system-architecture reason=short why]
</facts>
</segment>
</observations>
🔴 = important and lasting, 🟡 = useful, 🟢 = minor. gate=allow for durable facts, hold when \
unsure, discard for chatter."""


class ObserverReplyError(JoelclawError):
    """The observer answered, but nothing usable (retried; the transcript stays in the event)."""

    code = "OBSERVER_REPLY"


@dataclass
class Observed:
    facts: list[Fact] = field(default_factory=list)
    structured: bool = True  # False: no <observations> XML, lines parsed as a fallback

    @property
    def summary(self) -> str:
        return "\n".join(f"- {f.text}" for f in self.facts if f.verdict == "allow")


def sanitize(text: str) -> str:
    """Drop tool-call XML blocks, stray tool tags and tool-use ids."""
    text = _TOOL_BLOCKS.sub("", text)
    text = _TOOL_TAGS.sub("", text)
    return _TOOLU.sub("", text)


def prompt(transcript: str, *, session_name: str | None = None, files: Sequence[str] = ()) -> str:
    body = sanitize(transcript)[-TRANSCRIPT_LIMIT:]
    head = f"Session: {session_name}\n" if session_name else ""
    if files:
        head += "Files touched: " + ", ".join(files[:50]) + "\n"
    return f"{head}Transcript:\n{body}"


def observe(llm: LLMClient, transcript: str, *, model: str | None = None,
            session_name: str | None = None, files: Sequence[str] = ()) -> Observed:
    reply = llm.complete([{"role": "system", "content": SYSTEM},
                          {"role": "user", "content": prompt(transcript,
                                                             session_name=session_name,
                                                             files=files)}], model=model)
    return parse(reply)


def parse(reply: str) -> Observed:
    clean = sanitize(reply or "")
    block = _OBSERVATIONS.search(clean)
    facts: list[Fact] = []
    if block is not None:
        segments = _SEGMENT.findall(block.group(1)) or [block.group(1)]
        for segment in segments:
            narrative = _NARRATIVE.search(segment)
            if narrative and narrative.group(1).strip():
                facts.append(_fact(narrative.group(1), "segment_narrative"))
            listed = _FACTS.search(segment)
            for line in (listed.group(1) if listed else _strip_tags(segment)).splitlines():
                if _text_of(line):
                    facts.append(_fact(line, "segment_fact"))
        return _checked(Observed(facts, structured=True), reply)
    for line in _strip_tags(clean).splitlines():
        if _BULLET.match(line) and _text_of(line):
            facts.append(_fact(line, "observation_text"))
    return _checked(Observed(facts, structured=False), reply)


def _checked(observed: Observed, reply: str) -> Observed:
    if not observed.facts:
        shown = " ".join((reply or "").split())[:200] or "(empty)"
        raise ObserverReplyError(f"the observer's reply holds no observation: {shown!r}")
    return observed


def _strip_tags(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text)


def _text_of(line: str) -> str:
    text = _BULLET.sub("", line.strip())
    for emoji in IMPORTANCE:
        text = text.replace(emoji, "")
    return split_annotation(text)[0].strip()


def _fact(line: str, kind: str) -> Fact:
    raw = _BULLET.sub("", " ".join(line.split()))
    importance = next((level for emoji, level in IMPORTANCE.items() if emoji in raw), "medium")
    for emoji in IMPORTANCE:
        raw = raw.replace(emoji, "")
    text, annotation = split_annotation(raw)
    gate = resolve_write_gate(annotation)
    category, category_confidence, source = categorize(text, gate)
    return Fact(text=text.strip(), observation_type=kind, importance=importance,
                verdict=gate.verdict, confidence=gate.confidence, reason=gate.reason,
                fallback=gate.fallback, category_id=category,
                category_confidence=category_confidence, category_source=source)
