"""Text measures the pipeline decides with: token Jaccard (near-duplicate observations) and a
normalized Levenshtein similarity (triage against MEMORY.md and pending proposals)."""

from __future__ import annotations

import re

_TOKEN = re.compile("[a-z0-9]+(?:['\u2019][a-z]+)?")
_SPACE = re.compile(r"\s+")
DEDUP_THRESHOLD = 0.85  # token Jaccard at or above which two observations are one


def tokens(text: str) -> set[str]:
    return set(_TOKEN.findall(text.lower()))


def jaccard(a: str, b: str) -> float:
    left, right = tokens(a), tokens(b)
    if not left and not right:
        return 1.0
    return len(left & right) / len(left | right)


def normalize(text: str, limit: int = 100) -> str:
    """Lowercase, punctuation dropped, whitespace collapsed, first `limit` characters."""
    cleaned = re.sub(r"[^\w\s]", " ", text.lower())
    return _SPACE.sub(" ", cleaned).strip()[:limit]


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def similarity(a: str, b: str) -> float:
    """1 - distance / longer length, on the first 100 normalized characters (§5.3)."""
    left, right = normalize(a), normalize(b)
    if not left and not right:
        return 1.0
    return 1.0 - levenshtein(left, right) / max(len(left), len(right))
