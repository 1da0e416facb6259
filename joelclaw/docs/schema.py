"""The `docs` and `docs_chunks` collections, reconciled (never recreated) like memory's.

`docs` holds one record per document: where it came from, its title and its content hash (the
idempotency of docs-ingest: a document whose hash is already indexed is not indexed again).
`docs_chunks` holds the searchable text, one record per chunk, id `<doc_id>:<n>`. Its `embedding`
field exists only with an embedder (Typesense needs the dimension when the field is created).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOCS = "docs"
CHUNKS = "docs_chunks"
EMBEDDING = "embedding"


def _f(name: str, kind: str, *, facet: bool = False, optional: bool = False) -> dict[str, Any]:
    field: dict[str, Any] = {"name": name, "type": kind}
    if facet:
        field["facet"] = True
    if optional:
        field["optional"] = True
    return field


DOC_FIELDS: list[dict[str, Any]] = [
    _f("title", "string"),
    _f("source_kind", "string", facet=True),  # path | url
    _f("path", "string", optional=True),  # relative to the docs folder
    _f("url", "string", optional=True),
    _f("content_hash", "string", facet=True),
    _f("media_kind", "string", facet=True),  # text | markdown | html | pdf
    _f("tags", "string[]", facet=True, optional=True),
    _f("storage_category", "string", facet=True, optional=True),
    _f("source_host", "string", facet=True, optional=True),
    _f("chars", "int64"),
    _f("chunk_count", "int64"),
    _f("vectors", "bool", facet=True),
    _f("indexed_at", "int64"),
]

CHUNK_FIELDS: list[dict[str, Any]] = [
    _f("doc_id", "string", facet=True),
    _f("title", "string"),
    _f("text", "string"),
    _f("chunk_index", "int64"),
    _f("path", "string", optional=True),
    _f("url", "string", optional=True),
    _f("tags", "string[]", facet=True, optional=True),
    _f("content_hash", "string", facet=True),
    _f("indexed_at", "int64"),
]


def docs_schema() -> dict[str, Any]:
    return {"name": DOCS, "fields": list(DOC_FIELDS), "default_sorting_field": "indexed_at"}


def chunks_schema(dimensions: int | None) -> dict[str, Any]:
    fields = list(CHUNK_FIELDS)
    if dimensions:
        fields.append({"name": EMBEDDING, "type": "float[]", "num_dim": dimensions,
                       "optional": True})
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
