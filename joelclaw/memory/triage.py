"""Deterministic proposal triage: the seven rules of reference §5.3, checked in this order.

1. an empty change                                        -> auto-reject
2. a change that starts with instruction text             -> auto-reject
3. a raw leaked bullet `- (YYYY-MM-DD) ...`               -> auto-reject
4. similarity >= 0.85 to an existing MEMORY.md bullet     -> auto-reject
5. similarity >= 0.85 to another pending proposal         -> auto-merge if this one is longer
                                                             (its text goes to the other),
                                                             else auto-reject
6. dated, specific (ADR, path, command, config file), in System Architecture or Patterns,
   and no opinion words                                   -> auto-promote, rewritten to
                                                             llm-pending (batch LLM review)
7. otherwise                                              -> needs-review (the owner decides)

Similarity is a normalized Levenshtein ratio of the first 100 normalized characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from joelclaw.memory.proposals import Proposal
from joelclaw.memory.text import normalize, similarity

Action = Literal["auto-reject", "auto-merge", "llm-pending", "needs-review"]
SIMILAR = 0.85
INSTRUCTION_PREFIXES = ("add after", "add:", "replace ", "expand ", "consolidate ", "strengthen ",
                        "update existing", "update the ", "remove duplicate", "confirm and",
                        "clarify the")  # the old system's list (reference §5.3)
_LEAKED_BULLET = re.compile(r"^\s*-\s*\(\d{4}-\d{2}-\d{2}\)")
_DATE = re.compile(r"\(\d{4}-\d{2}-\d{2}\)")
_ADR = re.compile(r"\bADR-\d{3,4}\b", re.IGNORECASE)
_PATH = re.compile(r"(?:^|[\s`(])(?:~|\.{1,2})?/?[\w.-]+/[\w./-]+")
_COMMAND = re.compile(r"\b(?:git|kubectl|bun|pi|npm|pnpm|npx|uv|pip|docker|celery|redis-cli|"
                      r"joelclaw|curl|make|brew|launchctl|systemctl|pytest|ruff)\s+\S",
                      re.IGNORECASE)
_CONFIG = re.compile(r"\b[\w-]+\.(?:json|ya?ml|toml|ini|env|cfg|conf|plist)\b", re.IGNORECASE)
_OPINION = re.compile(r"\b(?:should|wants?|prefers?|never|always)\b", re.IGNORECASE)
AUTO_PROMOTE_SECTIONS = ("System Architecture", "Patterns")


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    rule: int
    merge_with: str | None = None
    merged_text: str | None = None


def specific(change: str) -> bool:
    return bool(_ADR.search(change) or _PATH.search(change) or _COMMAND.search(change)
                or _CONFIG.search(change))


def triage(proposal: Proposal, memory_bullets: list[str], others: list[Proposal]) -> Decision:
    change = proposal.change.strip()
    if not change:
        return Decision("auto-reject", "empty change", 1)
    if change.lower().startswith(INSTRUCTION_PREFIXES):
        return Decision("auto-reject", "an instruction to an editor, not a memory", 2)
    if _LEAKED_BULLET.match(change):
        return Decision("auto-reject", "a raw MEMORY.md bullet leaked into the proposal", 3)
    for bullet in memory_bullets:
        if similarity(change, bullet) >= SIMILAR:
            return Decision("auto-reject", f"already in MEMORY.md: {bullet[:80]}", 4)
    for other in others:
        if other.id == proposal.id or not other.open:
            continue
        if similarity(change, other.change) >= SIMILAR:
            if len(normalize(change, 100000)) > len(normalize(other.change, 100000)):
                return Decision("auto-merge", f"supersedes the similar proposal {other.id}", 5,
                                merge_with=other.id, merged_text=change)
            return Decision("auto-reject", f"a similar proposal is pending: {other.id}", 5)
    if (_DATE.search(change) and specific(change) and proposal.section in AUTO_PROMOTE_SECTIONS
            and not _OPINION.search(change)):
        return Decision("llm-pending", "dated, specific and factual: auto-promote, checked by "
                                       "the batch review first", 6)
    return Decision("needs-review", "needs the owner's decision", 7)
