"""Payloads of the memory/* events (reference §2.3). Fields are snake_case; the camelCase names
the old capture extensions send (`sessionId`, `dedupeKey`, ...) are accepted as aliases, so both
validate at send time and functions read one spelling through `model_validate`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from joelclaw.events.payloads.base import CamelPayload


class _Session(CamelPayload):
    session_id: str = Field(min_length=1)
    dedupe_key: str = Field(min_length=1)
    messages: str = ""
    message_count: int = Field(0, ge=0)
    files_read: list[str] = Field(default_factory=list)
    files_modified: list[str] = Field(default_factory=list)
    captured_at: str | float | None = None
    schema_version: int = 1

    @field_validator("messages", mode="before")
    @classmethod
    def _transcript(cls, value: Any) -> Any:
        """A list of chat messages is accepted and flattened to `role: content` lines."""
        if isinstance(value, list):
            lines = []
            for item in value:
                if isinstance(item, dict):
                    lines.append(f"{item.get('role', '?')}: {item.get('content', '')}")
                else:
                    lines.append(str(item))
            return "\n".join(lines)
        return value


class CompactionPending(_Session):
    trigger: Literal["compaction"] = "compaction"
    tokens_before: int | None = None


class SessionEnded(_Session):
    trigger: Literal["shutdown", "backfill"] = "shutdown"
    user_message_count: int | None = None
    duration: float | None = None
    session_name: str | None = None


class ObservationsAccumulated(CamelPayload):
    date: str
    total_tokens: int = 0
    observation_count: int = 0
    reflectable_count: int = 0
    captured_at: str | float | None = None


class ObservationsReflected(CamelPayload):
    date: str
    input_tokens: int = 0
    output_tokens: int = 0
    compression_ratio: float = 0.0
    proposal_count: int = 0
    captured_at: str | float | None = None


class ProposalCreated(CamelPayload):
    proposal_id: str = Field(pattern=r"^p-\d{8}-\d{3,}$")
    section: str
    change: str
    source: str | None = None
    timestamp: float | None = None


class ProposalTriaged(CamelPayload):
    proposal_id: str
    action: Literal["auto-promote", "auto-reject", "auto-merge", "needs-review", "llm-pending"]
    reason: str
    merge_with: str | None = None
    triaged_at: float | None = None


class BatchReviewRequested(CamelPayload):
    reason: str | None = None


class ProposalApproved(CamelPayload):
    proposal_id: str = Field(min_length=1)
    approved_by: str = "joel"
    proposal_context: dict[str, Any] | None = None


class ProposalRejected(CamelPayload):
    proposal_id: str = Field(min_length=1)
    reason: str = ""
    rejected_by: str | None = None
    proposal_context: dict[str, Any] | None = None


class ReviewCheck(CamelPayload):
    pass


MODELS: dict[str, type[BaseModel]] = {
    "memory/session.compaction.pending": CompactionPending,
    "memory/session.ended": SessionEnded,
    "memory/observations.accumulated": ObservationsAccumulated,
    "memory/observations.reflected": ObservationsReflected,
    "memory/proposal.created": ProposalCreated,
    "memory/proposal.triaged": ProposalTriaged,
    "memory/batch-review.requested": BatchReviewRequested,
    "memory/proposal.approved": ProposalApproved,
    "memory/proposal.rejected": ProposalRejected,
    "memory/review.check": ReviewCheck,
}
