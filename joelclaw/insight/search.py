"""`joelclaw search <query> [-c collection]`: one text search across the Typesense
collections this system keeps (memory observations, telemetry events, docs when present)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw.errors import JoelclawError
from joelclaw.integrations.http import HTTPNotFound

if TYPE_CHECKING:
    from joelclaw.integrations.typesense import SearchClient

# collection -> (query_by, fields shown, the field that is the hit's text)
COLLECTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "memory_observations": ("observation", ("timestamp", "category_id", "write_verdict"),
                            "observation"),
    "otel_events": ("search_text,component,action,error",
                    ("timestamp", "level", "component", "action", "run_id"), "error"),
    "docs": ("title,summary,filename", ("title", "document_type", "added_at"), "summary"),
    "docs_chunks": ("retrieval_text,content,title", ("doc_id", "title"), "content"),
}


class UnknownCollection(JoelclawError, ValueError):
    pass


def search_all(search: SearchClient, query: str, *, collection: str | None = None,
               limit: int = 10) -> dict[str, Any]:
    if collection is not None and collection not in COLLECTIONS:
        raise UnknownCollection(f"unknown collection {collection!r}: one of "
                                f"{', '.join(COLLECTIONS)}")
    names = [collection] if collection else list(COLLECTIONS)
    results: dict[str, Any] = {}
    skipped: list[str] = []
    for name in names:
        query_by, shown, text = COLLECTIONS[name]
        if search.collection(name) is None:
            skipped.append(name)
            continue
        try:
            answer = search.search(name, {"q": query, "query_by": query_by, "per_page": limit,
                                          "exclude_fields": "embedding"})
        except HTTPNotFound:
            skipped.append(name)
            continue
        hits = []
        for hit in answer.get("hits", []):
            doc = hit["document"]
            hits.append({"id": doc.get("id"), "text": str(doc.get(text) or doc.get(
                "search_text") or "")[:300], **{k: doc.get(k) for k in shown}})
        results[name] = {"found": int(answer.get("found", 0)), "hits": hits}
    return {"query": query, "collections": results, "absent": skipped}
