"""The `memory_observations` collection (reference §5.2), reconciled rather than recreated.

Fields are those of the old system plus `dedupe_key` and `merged_ids` (which make a retried store
idempotent: an observation id already merged is never counted twice) and `importance` (the
observer's 🔴/🟡/🟢). The `embedding` field exists only with an embedder: Typesense needs its
dimension when the field is created, so it is probed from the embedder at reconcile time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from joelclaw.integrations.typesense import schema_field, vector_field

COLLECTION = "memory_observations"
EMBEDDING = "embedding"


FIELDS: list[dict[str, Any]] = [
    schema_field("session_id", "string", facet=True),
    schema_field("observation", "string"),
    schema_field("observation_type", "string", facet=True),
    schema_field("source", "string", facet=True),
    schema_field("timestamp", "int64", sort=True),
    schema_field("merged_count", "int64"),
    schema_field("updated_at", "int64"),
    schema_field("stale", "bool", facet=True),
    schema_field("stale_tagged_at", "int64", optional=True),
    schema_field("recall_count", "int64"),
    schema_field("retrieval_priority", "float"),
    schema_field("last_used_at", "int64", optional=True),
    schema_field("superseded_by", "string", optional=True),
    schema_field("supersedes", "string[]", optional=True),
    schema_field("write_verdict", "string", facet=True),
    schema_field("write_confidence", "float"),
    schema_field("write_reason", "string", optional=True),
    schema_field("write_gate_version", "string", facet=True),
    schema_field("write_gate_fallback", "bool", facet=True),
    schema_field("category_id", "string", facet=True),
    schema_field("category_confidence", "float"),
    schema_field("category_source", "string", facet=True),
    schema_field("taxonomy_version", "string", facet=True),
    schema_field("dedupe_key", "string", facet=True, optional=True),
    schema_field("merged_ids", "string[]", optional=True),
    schema_field("importance", "string", facet=True, optional=True),
    # provenance (joelclaw.provenance): the event, run and step that stored it
    schema_field("event_id", "string", facet=True, optional=True),
    schema_field("run_id", "string", facet=True, optional=True),
    schema_field("step", "string", optional=True),
]


def schema(dimensions: int | None) -> dict[str, Any]:
    fields = list(FIELDS)
    if dimensions:
        fields.append(vector_field(EMBEDDING, dimensions))
    return {"name": COLLECTION, "fields": fields, "default_sorting_field": "timestamp"}


@dataclass(frozen=True)
class VectorStatus:
    """Whether vector search is on, and why not when it is off."""

    enabled: bool
    dimensions: int | None = None
    reason: str = ""


def vector_status(fields: dict[str, dict[str, Any]], dimensions: int | None,
                  embedder_error: str = "") -> VectorStatus:
    if embedder_error:
        return VectorStatus(False, None, f"keyword-only: the embeddings endpoint failed "
                                         f"({embedder_error})")
    if not dimensions:
        return VectorStatus(False, None, "keyword-only: no embeddings endpoint is configured "
                                         "(JOELCLAW_EMBEDDINGS_API_URL)")
    existing = fields.get(EMBEDDING)
    if existing is not None and int(existing.get("num_dim") or 0) != dimensions:
        return VectorStatus(False, None, f"keyword-only: the collection's embedding field has "
                                         f"{existing.get('num_dim')} dimensions but the model "
                                         f"gives {dimensions}")
    return VectorStatus(True, dimensions)
