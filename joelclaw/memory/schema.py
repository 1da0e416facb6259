"""The `memory_observations` collection (reference §5.2), reconciled rather than recreated.

Fields are those of the old system plus `dedupe_key` and `merged_ids` (which make a retried store
idempotent: an observation id already merged is never counted twice) and `importance` (the
observer's 🔴/🟡/🟢). The `embedding` field exists only with an embedder: Typesense needs its
dimension when the field is created, so it is probed from the embedder at reconcile time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COLLECTION = "memory_observations"
EMBEDDING = "embedding"


def _f(name: str, kind: str, *, facet: bool = False, optional: bool = False,
       sort: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": kind}
    if facet:
        field["facet"] = True
    if optional:
        field["optional"] = True
    if sort:
        field["sort"] = True
    return field


FIELDS: list[dict[str, Any]] = [
    _f("session_id", "string", facet=True),
    _f("observation", "string"),
    _f("observation_type", "string", facet=True),
    _f("source", "string", facet=True),
    _f("timestamp", "int64", sort=True),
    _f("merged_count", "int64"),
    _f("updated_at", "int64"),
    _f("stale", "bool", facet=True),
    _f("stale_tagged_at", "int64", optional=True),
    _f("recall_count", "int64"),
    _f("retrieval_priority", "float"),
    _f("last_used_at", "int64", optional=True),
    _f("superseded_by", "string", optional=True),
    _f("supersedes", "string[]", optional=True),
    _f("write_verdict", "string", facet=True),
    _f("write_confidence", "float"),
    _f("write_reason", "string", optional=True),
    _f("write_gate_version", "string", facet=True),
    _f("write_gate_fallback", "bool", facet=True),
    _f("category_id", "string", facet=True),
    _f("category_confidence", "float"),
    _f("category_source", "string", facet=True),
    _f("taxonomy_version", "string", facet=True),
    _f("dedupe_key", "string", facet=True, optional=True),
    _f("merged_ids", "string[]", optional=True),
    _f("importance", "string", facet=True, optional=True),
]


def schema(dimensions: int | None) -> dict[str, Any]:
    fields = list(FIELDS)
    if dimensions:
        fields.append({"name": EMBEDDING, "type": "float[]", "num_dim": dimensions,
                       "optional": True})
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
