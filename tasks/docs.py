"""The docs library (reference §1.7): docs-ingest (throttled 20/60 s, idempotent per path and
idempotency key for 24 h, and per content hash for good) and docs-backlog (the docs folder queued
in batches with durable sleeps between them). Thin: the logic is in joelclaw.docs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw import Context, function

if TYPE_CHECKING:
    from joelclaw import Settings
    from joelclaw.events.payloads.docs import BacklogRequested, IngestRequested

IDEMPOTENCY = ('string(event.data.path) + string(event.data.url) + "::" + '
               'string(event.data.idempotency_key)')


@function("docs-ingest", trigger="docs/ingest.requested", retries=4,
          concurrency=lambda s: s.docs.ingest_concurrency,
          throttle={"limit": 20, "period": "60s", "key": '"docs-ingest"'},
          idempotency=IDEMPOTENCY)
def docs_ingest(ctx: Context[IngestRequested]) -> dict[str, Any]:
    """A document (a path under the docs folder, or a URL) → text → chunks → Typesense."""
    from joelclaw.docs import ingest, model

    request = ctx.event.data
    settings = ctx.settings
    checked = ctx.step.run("validate-file", ingest.validate, settings, request)
    if "skipped" in checked:
        return {"status": "skipped", "reason": checked["skipped"]}
    located = model.Located.from_dict(checked["located"])
    extracted = ctx.step.run("extract-text", ingest.extract_text, settings, located)
    if "skipped" in extracted:
        return {"status": "skipped", "reason": extracted["skipped"], "doc_id": located.doc_id}
    if extracted.get("unchanged"):
        return {"status": "unchanged", "doc_id": extracted["doc_id"],
                "content_hash": extracted["content_hash"],
                "duplicate_of": extracted["duplicate_of"]}
    vectors = ctx.step.run("ensure-docs-collections", ingest.ensure_collections, settings)
    record = ingest.record_of(located, request, extracted)
    count = ctx.step.run("chunk-and-index", ingest.chunk_and_index, settings, located, record,
                         extracted, vectors["enabled"])
    stored = ctx.step.run("upsert-document", ingest.upsert_document, settings, located, record,
                          count, vectors["enabled"])
    ctx.step.send_event("emit-completed", {"name": "docs/ingest.completed", "data": {
        "doc_id": stored["doc_id"], "title": record["title"], "path": record["path"],
        "url": record["url"], "storage_category": record["storage_category"],
        "content_hash": record["content_hash"], "chunks_indexed": count,
        "vectors": vectors["enabled"]}})
    ctx.step.run("cleanup-text-artifact", ingest.cleanup, extracted["artifact"])
    return {"status": "indexed", "doc_id": stored["doc_id"], "title": record["title"],
            "chunks": count, "vectors": vectors["enabled"],
            **({} if vectors["enabled"] else {"search": vectors["reason"]})}


def _list(settings: Settings, folder: str | None) -> dict[str, Any]:
    from joelclaw.docs import backlog, model

    try:
        return {"files": backlog.list_folder(settings, folder)}
    except model.DocumentSkipped as skip:
        return {"skipped": skip.reason}


def _indexed(settings: Settings) -> list[str]:
    from joelclaw.docs import ingest

    return sorted(ingest.open_index(settings).indexed_sources())


@function("docs-backlog", trigger="docs/backlog.requested", retries=2, concurrency=1,
          singleton={"key": '"global"', "mode": "skip"})
def docs_backlog(ctx: Context[BacklogRequested]) -> dict[str, Any]:
    """Queue the docs folder's documents for docs-ingest, a batch at a time, sleeping between."""
    from joelclaw.docs import backlog

    request = ctx.event.data
    settings = ctx.settings
    listed = ctx.step.run("list-docs-folder", _list, settings, request.folder)
    if "skipped" in listed:
        return {"status": "skipped", "reason": listed["skipped"]}
    indexed: list[str] = []
    if request.only_missing and listed["files"]:
        indexed = ctx.step.run("load-existing-docs", _indexed, settings)
    batch_size = request.batch_size or settings.docs.backlog_batch_size
    pace = settings.docs.backlog_pace_seconds if request.pace_seconds is None \
        else request.pace_seconds
    key = request.idempotency_prefix or f"backlog:{ctx.run_id}"
    batches = ctx.step.run("plan-backlog-events", lambda: backlog.plan(
        listed["files"], set(indexed), only_missing=request.only_missing,
        max_entries=request.max_entries, batch_size=batch_size, idempotency_key=key))
    queued = 0
    for n, events in enumerate(batches, start=1):
        if n > 1 and pace > 0:
            ctx.step.sleep(f"pace-backlog-batch-{n}", pace)
        ctx.step.send_event(f"queue-backlog-batch-{n}", events)
        queued += len(events)
    return {"status": "queued", "files": len(listed["files"]), "already_indexed": len(indexed),
            "queued": queued, "batches": len(batches), "pace_seconds": pace}
