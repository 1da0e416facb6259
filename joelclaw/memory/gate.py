"""The write gate (v1) and the category taxonomy (SKOS-lite v1), as in reference §5.1.

Each fact carries `[gate=<allow|hold|discard> confidence=<0..1> category=<jc:*> reason=<...>]`.
A missing or invalid annotation gives allow, 0.35, `parse_fallback`, fallback=true. The
category the LLM suggests wins when its confidence is at least 0.65; otherwise keyword rules
decide, and with no rule matching the category is a fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from joelclaw.memory.model import CategorySource, Verdict

VERDICTS = ("allow", "hold", "discard")
FALLBACK_CONFIDENCE = 0.35
LLM_CATEGORY_MIN = 0.65
CATEGORIES = ("jc:memory-system", "jc:operations", "jc:people-relationships", "jc:preferences",
              "jc:projects", "jc:rules-conventions", "jc:system-architecture")
_ANNOTATION = re.compile(r"\[\s*gate\s*=([^\]]*)\]", re.IGNORECASE)
_PAIR = re.compile(r"(gate|confidence|category|reason)\s*=", re.IGNORECASE)
RULES: dict[str, tuple[str, ...]] = {
    "jc:memory-system": ("memory", "recall", "observation", "reflect", "memory.md", "typesense",
                         "proposal"),
    "jc:operations": ("deploy", "incident", "restart", "outage", "backup", "monitor", "alert",
                      "on-call", "cron", "rollback"),
    "jc:people-relationships": ("wife", "husband", "friend", "colleague", "met with", "family",
                                "kids", "partner", "client", "mentor"),
    "jc:preferences": ("prefers", "prefer", "likes", "dislikes", "favorite", "favourite", "hates",
                       "enjoys", "wants"),
    "jc:projects": ("project", "repo", "course", "launch", "feature", "roadmap", "milestone",
                    "release"),
    "jc:rules-conventions": ("always", "never", "must", "convention", "rule", "style guide",
                             "naming"),
    "jc:system-architecture": ("architecture", "redis", "celery", "worker", "gateway", "queue",
                               "api", "database", "service", "schema", "adr-"),
}


@dataclass(frozen=True)
class Gate:
    verdict: Verdict
    confidence: float
    reason: str
    fallback: bool
    category_hint: str | None = None


def split_annotation(line: str) -> tuple[str, str | None]:
    """('the fact text', 'gate=... reason=...') or (line, None) when there is no annotation."""
    match = _ANNOTATION.search(line)
    if match is None:
        return line.strip(), None
    text = (line[:match.start()] + line[match.end():]).strip()
    return text, "gate=" + match.group(1)


def resolve_write_gate(annotation: str | None) -> Gate:
    if not annotation:
        return Gate("allow", FALLBACK_CONFIDENCE, "parse_fallback", True)
    fields = _pairs(annotation)
    verdict = fields.get("gate", "").lower()
    try:
        confidence = float(fields.get("confidence", ""))
    except ValueError:
        confidence = -1.0
    if verdict not in VERDICTS or not 0.0 <= confidence <= 1.0:
        return Gate("allow", FALLBACK_CONFIDENCE, "parse_fallback", True)
    category = fields.get("category", "").lower() or None
    return Gate(verdict, confidence,  # type: ignore[arg-type]  # one of VERDICTS (checked above)
                fields.get("reason", "").strip() or "unspecified", False,
                category if category in CATEGORIES else None)


def _pairs(annotation: str) -> dict[str, str]:
    """key=value pairs; a value runs until the next known key, so reasons may hold spaces."""
    found = list(_PAIR.finditer(annotation))
    out: dict[str, str] = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(annotation)
        out[match.group(1).lower()] = annotation[match.end():end].strip()
    return out


def categorize(text: str, gate: Gate) -> tuple[str, float, CategorySource]:
    if gate.category_hint and gate.confidence >= LLM_CATEGORY_MIN:
        return gate.category_hint, gate.confidence, "llm"
    lowered = text.lower()
    scores = {category: sum(1 for word in words if word in lowered)
              for category, words in RULES.items()}
    best = max(scores, key=lambda c: scores[c])
    if scores[best] == 0:
        return gate.category_hint or "jc:operations", 0.3, "fallback"
    return best, min(0.9, 0.5 + 0.1 * scores[best]), "rules"
