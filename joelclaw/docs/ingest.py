"""The steps of docs-ingest, as plain functions of the settings and JSON-able values (each is
one memoized step of tasks/docs.py): validate → extract-text → ensure-docs-collections →
chunk-and-index → upsert-document → (docs/ingest.completed) → cleanup-text-artifact.

The extracted text goes to an artifact file under `<home>/docs/artifacts`, not into the run's
memo: a retry on another host (where the file is not) extracts it again.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw.docs import chunk, extract, source
from joelclaw.docs.index import DocsIndex
from joelclaw.docs.model import DocumentSkipped, Located, content_hash
from joelclaw.integrations.embeddings import make_embedder
from joelclaw.integrations.typesense import SearchClient, resolve_endpoint

if TYPE_CHECKING:
    from joelclaw.config import Settings
    from joelclaw.events.payloads.docs import IngestRequested

log = logging.getLogger("joelclaw.docs")
NO_TYPESENSE = ("no Typesense configured: run `joelclaw up` (embedded) or set "
                "JOELCLAW_TYPESENSE_URL and JOELCLAW_TYPESENSE_API_KEY")


def open_index(settings: Settings) -> DocsIndex:
    return DocsIndex(SearchClient.from_settings(settings), make_embedder(settings))


def artifacts_dir(settings: Settings) -> Path:
    return settings.home_dir / "docs" / "artifacts"


def validate(settings: Settings, request: IngestRequested) -> dict[str, Any]:
    """{"located": ...} for a document that may be read, else {"skipped": reason}."""
    try:
        located = source.locate(settings, path=request.path, url=request.url)
        if located.kind == "path" and not extract.supported(located.rel):
            extract.extract(b"", located.rel)  # raises the DocumentSkipped naming the type
    except DocumentSkipped as skip:
        return {"skipped": skip.reason}
    if resolve_endpoint(settings) is None:
        return {"skipped": NO_TYPESENSE}
    return {"located": located.as_dict()}


def extract_text(settings: Settings, located: Located) -> dict[str, Any]:
    """Read and hash the bytes; already indexed → {"unchanged": ...}; else extract to a file.

    Unchanged: this source's own record has these bytes, or (a source never indexed) another
    document has them. A source whose record is stale is indexed again even when a copy of its
    new bytes exists elsewhere, so its old chunks never outlive it.
    """
    try:
        raw = source.read(settings, located)
        digest = content_hash(raw.data)
        index = open_index(settings)
        own = index.document(located.doc_id)
        same = own if own is not None and own.get("content_hash") == digest else None
        if own is None:  # a new source whose bytes are already indexed under another name
            same = index.by_hash(digest)
        if same is not None:
            return {"unchanged": True, "doc_id": same["id"], "content_hash": digest,
                    "duplicate_of": None if same["id"] == located.doc_id else same["id"],
                    "title": same.get("title", "")}
        done = extract.extract(raw.data, raw.name, raw.media_type)
    except DocumentSkipped as skip:
        return {"skipped": skip.reason}
    artifact = _write_artifact(settings, located.doc_id, digest, done.text)
    return {"content_hash": digest, "title": done.title, "kind": done.kind,
            "chars": len(done.text), "artifact": str(artifact)}


def _write_artifact(settings: Settings, doc_id: str, digest: str, text: str) -> Path:
    folder = artifacts_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{doc_id}-{digest.split(':')[-1][:16]}.txt"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def _text(settings: Settings, located: Located, extracted: dict[str, Any]) -> str:
    with contextlib.suppress(OSError):
        return Path(extracted["artifact"]).read_text(encoding="utf-8")
    raw = source.read(settings, located)  # another host, or the file was cleaned: do it again
    return extract.extract(raw.data, raw.name, raw.media_type).text


def ensure_collections(settings: Settings) -> dict[str, Any]:
    return asdict(open_index(settings).ensure())


def record_of(located: Located, request: IngestRequested,
              extracted: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": request.title or extracted["title"], "source_kind": located.kind,
        "path": located.rel if located.kind == "path" else None,
        "url": located.source if located.kind == "url" else None,
        "content_hash": extracted["content_hash"], "media_kind": extracted["kind"],
        "tags": list(request.tags), "storage_category": request.storage_category,
        "source_host": request.source_host, "chars": extracted["chars"],
    }


def chunk_and_index(settings: Settings, located: Located, record: dict[str, Any],
                    extracted: dict[str, Any], use_vectors: bool) -> int:
    texts = chunk.chunks(_text(settings, located, extracted), settings.docs.chunk_chars,
                         settings.docs.chunk_overlap)
    return open_index(settings).write_chunks(located.doc_id, record, texts, use_vectors)


def upsert_document(settings: Settings, located: Located, record: dict[str, Any],
                    chunk_count: int, use_vectors: bool) -> dict[str, Any]:
    stored = open_index(settings).write_document(
        located.doc_id, {**record, "chunk_count": chunk_count, "vectors": use_vectors})
    return {"doc_id": stored["id"], "indexed_at": stored["indexed_at"]}


def cleanup(artifact: str) -> bool:
    try:
        Path(artifact).unlink()
    except FileNotFoundError:
        return False
    return True
