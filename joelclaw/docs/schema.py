"""The `docs` and `docs_chunks` collections, reconciled (never recreated) like memory's.

`docs` holds one record per document: where it came from, its title and its content hash (the
idempotency of docs-ingest: a document whose hash is already indexed is not indexed again).
`docs_chunks` holds the searchable text, one record per chunk, id `<doc_id>:<n>`. Its `embedding`
field exists only with an embedder (Typesense needs the dimension when the field is created).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from joelclaw.integrations.typesense import schema_field, vector_field

DOCS = "docs"
CHUNKS = "docs_chunks"
EMBEDDING = "embedding"


DOC_FIELDS: list[dict[str, Any]] = [
    schema_field("title", "string"),
    schema_field("source_kind", "string", facet=True),  # path | url
    schema_field("path", "string", optional=True),  # relative to the docs folder
    schema_field("url", "string", optional=True),
    schema_field("content_hash", "string", facet=True),
    schema_field("media_kind", "string", facet=True),  # text | markdown | html | pdf
    schema_field("tags", "string[]", facet=True, optional=True),
    schema_field("storage_category", "string", facet=True, optional=True),
    schema_field("source_host", "string", facet=True, optional=True),
    schema_field("chars", "int64"),
    schema_field("chunk_count", "int64"),
    schema_field("vectors", "bool", facet=True),
    schema_field("indexed_at", "int64"),
]

CHUNK_FIELDS: list[dict[str, Any]] = [
    schema_field("doc_id", "string", facet=True),
    schema_field("title", "string"),
    schema_field("text", "string"),
    schema_field("chunk_index", "int64"),
    schema_field("path", "string", optional=True),
    schema_field("url", "string", optional=True),
    schema_field("tags", "string[]", facet=True, optional=True),
    schema_field("content_hash", "string", facet=True),
    schema_field("indexed_at", "int64"),
]


def docs_schema() -> dict[str, Any]:
    return {"name": DOCS, "fields": list(DOC_FIELDS), "default_sorting_field": "indexed_at"}


def chunks_schema(dimensions: int | None) -> dict[str, Any]:
    fields = list(CHUNK_FIELDS)
    if dimensions:
        fields.append(vector_field(EMBEDDING, dimensions))
    return {"name": CHUNKS, "fields": fields, "default_sorting_field": "chunk_index"}


@dataclass(frozen=True)
class Vectors:
    """Whether chunks get vectors, and why not when they do not."""

    enabled: bool
    dimensions: int | None = None
    reason: str = ""


def vectors(fields: dict[str, dict[str, Any]], dimensions: int | None) -> Vectors:
    if not dimensions:
        return Vectors(False, None, "keyword-only: no embeddings endpoint is configured "
                                    "(JOELCLAW_EMBEDDINGS_API_URL)")
    existing = fields.get(EMBEDDING)
    if existing is not None and int(existing.get("num_dim") or 0) != dimensions:
        return Vectors(False, None, f"keyword-only: docs_chunks.embedding has "
                                    f"{existing.get('num_dim')} dimensions, the model gives "
                                    f"{dimensions}")
    return Vectors(True, dimensions)
