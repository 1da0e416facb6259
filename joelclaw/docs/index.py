"""The docs index in Typesense: reconcile the collections, look documents up by content hash,
write a document's chunks (with vectors when there is an embedder) and then its record.

The record is written last: it carries the content hash that makes a later ingest of the same
bytes a no-op, so it must not exist before the chunks do.
"""

from __future__ import annotations

import time
from typing import Any

from joelclaw.docs import schema
from joelclaw.integrations.embeddings import Embedder
from joelclaw.integrations.typesense import SearchClient

IMPORT_BATCH = 100


def _quote(value: str) -> str:
    return "`" + value.replace("`", "") + "`"


class DocsIndex:
    def __init__(self, search: SearchClient, embedder: Embedder | None) -> None:
        self.search = search
        self.embedder = embedder

    def ensure(self) -> schema.Vectors:
        """Create or complete both collections; probe the embedder for its dimension."""
        dimensions = len(self.embedder.embed(["dimension probe"])[0]) if self.embedder else None
        self.search.ensure_collection(schema.docs_schema())
        done = self.search.ensure_collection(schema.chunks_schema(dimensions))
        return schema.vectors(done.fields, dimensions)

    def document(self, doc_id: str) -> dict[str, Any] | None:
        if self.search.collection(schema.DOCS) is None:
            return None
        return self.search.get(schema.DOCS, doc_id)

    def by_hash(self, content_hash: str) -> dict[str, Any] | None:
        """The indexed document with these exact bytes, if any."""
        if self.search.collection(schema.DOCS) is None:
            return None
        found = self.search.search(schema.DOCS, {
            "q": "*", "filter_by": f"content_hash:={_quote(content_hash)}", "per_page": 1})
        hits = found.get("hits") or []
        return dict(hits[0]["document"]) if hits else None

    def indexed_sources(self) -> set[str]:
        """Every path and URL in the index (for a backlog's `only_missing`)."""
        if self.search.collection(schema.DOCS) is None:
            return set()
        seen: set[str] = set()
        page = 1
        while True:
            found = self.search.search(schema.DOCS, {"q": "*", "per_page": 250, "page": page,
                                                     "include_fields": "path,url"})
            hits = found.get("hits") or []
            for hit in hits:
                doc = hit["document"]
                seen.update(v for v in (doc.get("path"), doc.get("url")) if v)
            if len(hits) < 250:
                return seen
            page += 1

    def write_chunks(self, doc_id: str, record: dict[str, Any], texts: list[str],
                     use_vectors: bool) -> int:
        """Upsert chunks `<doc_id>:0..n-1` and delete those a longer earlier version left."""
        now = int(time.time())
        base = {k: record[k] for k in ("title", "path", "url", "tags", "content_hash")
                if record.get(k) is not None}
        docs = [{"id": f"{doc_id}:{n}", "doc_id": doc_id, "chunk_index": n, "text": text,
                 "indexed_at": now, **base} for n, text in enumerate(texts)]
        for start in range(0, len(docs), IMPORT_BATCH):
            batch = docs[start:start + IMPORT_BATCH]
            if use_vectors and self.embedder is not None:
                vectors = self.embedder.embed([d["text"] for d in batch])
                for doc, vector in zip(batch, vectors, strict=True):
                    doc[schema.EMBEDDING] = vector
            self.search.import_documents(schema.CHUNKS, batch)
        previous = self.document(doc_id)
        old_count = int(previous.get("chunk_count") or 0) if previous else 0
        for n in range(len(texts), old_count):
            self.search.delete(schema.CHUNKS, f"{doc_id}:{n}")
        return len(docs)

    def write_document(self, doc_id: str, record: dict[str, Any]) -> dict[str, Any]:
        document = {k: v for k, v in record.items() if v is not None}
        document.update(id=doc_id, indexed_at=int(time.time()))
        return self.search.upsert(schema.DOCS, document)

    def find(self, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Keyword search over the chunks: the best chunk per document, best first."""
        if self.search.collection(schema.CHUNKS) is None:
            return []
        found = self.search.search(schema.CHUNKS, {
            "q": query, "query_by": "text,title", "per_page": limit, "group_by": "doc_id",
            "group_limit": 1, "exclude_fields": schema.EMBEDDING})
        return [dict(group["hits"][0]["document"]) for group in found.get("grouped_hits") or []
                if group.get("hits")]
