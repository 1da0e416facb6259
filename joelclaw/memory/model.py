"""The pipeline's data: an extracted fact with its write-gate verdict and category."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Verdict = Literal["allow", "hold", "discard"]
CategorySource = Literal["rules", "llm", "fallback", "external"]
WRITE_GATE_VERSION = "v1"
TAXONOMY_VERSION = "v1"


class Fact(BaseModel):
    """One observation, as the observer gave it and the write gate judged it."""

    text: str = Field(min_length=1)
    observation_type: str = "segment_fact"
    importance: Literal["high", "medium", "low"] = "medium"
    verdict: Verdict = "allow"
    confidence: float = Field(0.35, ge=0, le=1)
    reason: str = "parse_fallback"
    fallback: bool = True
    category_id: str = "jc:operations"
    category_confidence: float = Field(0.0, ge=0, le=1)
    category_source: CategorySource = "fallback"
