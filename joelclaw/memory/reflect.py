"""Reflection: seven days of allowed observations plus MEMORY.md -> proposals for MEMORY.md.

The reflector answers XML (the old system's format) or the same as JSON:

    <proposals><proposal><section>Patterns</section><change>...</change></proposal></proposals>
    {"proposals": [{"section": "Patterns", "change": "..."}]}

Sections must be one of the six of MEMORY.md; others are dropped (and counted). The output must
be shorter than its input: a longer one is asked again, twice at most, with firmer guidance.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from joelclaw import keys
from joelclaw.errors import JoelclawError
from joelclaw.memory.memoryfile import SECTIONS
from joelclaw.memory.service import Memory

OBSERVATIONS_CAP = 120_000
MEMORY_CAP = 80_000
DAYS = 7
GUIDANCE = ("", "Your proposals were longer than their input. Compress to about 8/10 of it.",
            "Still too long. Compress hard, to about 6/10 of the input; keep only what lasts.")
_PROPOSAL = re.compile(r"<proposal\b[^>]*>(.*?)</proposal>", re.DOTALL | re.IGNORECASE)
_SECTION = re.compile(r"<section\b[^>]*>(.*?)</section>", re.DOTALL | re.IGNORECASE)
_CHANGE = re.compile(r"<change\b[^>]*>(.*?)</change>", re.DOTALL | re.IGNORECASE)

SYSTEM = f"""You maintain an AI assistant's long-term memory file, MEMORY.md, whose sections \
are: {", ".join(SECTIONS)}. From the week's observations propose additions worth keeping for \
months: one self-contained statement each, not already in MEMORY.md, no instructions to an \
editor. Answer ONLY with XML: <proposals><proposal><section>one of the sections</section>\
<change>the statement</change></proposal>...</proposals> (an empty <proposals/> is fine)."""


class ReflectorReplyError(JoelclawError):
    code = "REFLECTOR_REPLY"


@dataclass
class Reflection:
    proposals: list[dict[str, str]] = field(default_factory=list)
    dropped: int = 0
    input_chars: int = 0
    output_chars: int = 0
    attempts: int = 1


def load_observations(mem: Memory, now: float | None = None, days: int = DAYS) -> str:
    """The allowed facts of the last `days` days (oldest first), capped, keeping the tail."""
    today = datetime.fromtimestamp(now if now is not None else time.time(), UTC).date()
    chunks = []
    for back in range(days - 1, -1, -1):
        date = (today - timedelta(days=back)).isoformat()
        for raw in mem.redis.lrange(keys.memory_observations(date), 0, -1):
            item = json.loads(raw)
            if item.get("summary"):
                chunks.append(f"## {date} ({item.get('metadata', {}).get('session_id', '?')})\n"
                              f"{item['summary']}")
    return "\n\n".join(chunks)[-OBSERVATIONS_CAP:]


def parse(reply: str) -> tuple[list[dict[str, str]], int]:
    """(proposals in known sections, how many were dropped for an unknown section)."""
    items: list[dict[str, Any]] = []
    blocks = _PROPOSAL.findall(reply or "")
    if blocks:
        for block in blocks:
            section, change = _SECTION.search(block), _CHANGE.search(block)
            items.append({"section": section.group(1) if section else "",
                          "change": change.group(1) if change else ""})
    elif re.search(r"<proposals\b[^>]*/?>", reply or "", re.IGNORECASE):
        return [], 0
    else:
        items = _json_items(reply)
    kept: list[dict[str, str]] = []
    dropped = 0
    by_name = {s.lower(): s for s in SECTIONS}
    for item in items:
        name = by_name.get(" ".join(str(item.get("section", "")).split()).lower())
        text = " ".join(str(item.get("change", "")).split())
        if name is None:
            dropped += 1
            continue
        kept.append({"section": name, "change": text})
    return kept, dropped


def _json_items(reply: str) -> list[dict[str, Any]]:
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", (reply or "").strip())
    try:
        data = json.loads(text[text.find("{"):]) if "{" in text else None
    except json.JSONDecodeError:
        data = None
    items = data.get("proposals") if isinstance(data, dict) else None
    if not isinstance(items, list):
        shown = " ".join((reply or "").split())[:200]
        raise ReflectorReplyError(f"the reflector's reply has no proposals: {shown!r}")
    return [i for i in items if isinstance(i, dict)]


def reflect(mem: Memory, now: float | None = None) -> Reflection:
    observations = load_observations(mem, now)
    if not observations.strip():
        return Reflection()
    memory_text = mem.memory_file.read()[-MEMORY_CAP:]
    user = f"MEMORY.md:\n{memory_text}\n\nObservations of the last {DAYS} days:\n{observations}"
    llm = mem.llm(purpose="memory reflection")
    result = Reflection(input_chars=len(observations), attempts=0)
    try:
        for guidance in GUIDANCE:
            messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
            if guidance:
                messages.append({"role": "user", "content": guidance})
            result.proposals, result.dropped = parse(llm.complete(messages))
            result.output_chars = sum(len(p["change"]) for p in result.proposals)
            result.attempts += 1
            if result.output_chars < result.input_chars:
                break
    finally:
        llm.close()
    return result


def stage(mem: Memory, run_id: str, proposals: list[dict[str, str]],
          now: float | None = None) -> list[dict[str, str]]:
    """Create the proposals in Redis once per run: a retried step finds those it made."""
    made_key = keys.memory_staged(run_id)
    staged = []
    for index, item in enumerate(proposals):
        existing = mem.redis.hget(made_key, str(index))
        if existing is not None:
            proposal = mem.proposals.require(existing.decode())
        else:
            proposal = mem.proposals.create(item["section"], item["change"], now=now)
            mem.redis.hset(made_key, str(index), proposal.id)
            mem.redis.expire(made_key, keys.MEMORY_STAGED_TTL)
        staged.append({"id": proposal.id, "section": proposal.section,
                       "change": proposal.change})
    return staged
