"""Payloads of the docs/* events (reference §2.1). Fields are snake_case; the old camelCase names
(`nasPath`, `idempotencyKey`, `maxEntries`, ...) are accepted as aliases, so an event sent the old
way validates and functions read one spelling."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, model_validator

from joelclaw.events.payloads.base import CamelPayload


class IngestRequested(CamelPayload):
    """One document: a path under JOELCLAW_DOCS_DIR (relative or absolute) or a URL."""

    path: str | None = Field(None, min_length=1, max_length=4096,
                             validation_alias=AliasChoices("path", "nasPath", "nas_path"))
    url: str | None = Field(None, min_length=1, max_length=4096)
    title: str | None = None
    tags: list[str] = Field(default_factory=list)
    storage_category: str | None = None
    source_host: str | None = None
    idempotency_key: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> IngestRequested:
        if bool(self.path) == bool(self.url):
            raise ValueError("give exactly one of `path` (under JOELCLAW_DOCS_DIR) or `url`")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("`url` must start with http:// or https://")
        if self.url and "@" in urlsplit(self.url).netloc:
            raise ValueError("`url` must not carry credentials (user:password@): it is stored "
                             "with the document")
        return self


class IngestCompleted(CamelPayload):
    doc_id: str
    title: str
    path: str | None = None
    url: str | None = None
    storage_category: str | None = None
    content_hash: str
    chunks_indexed: int = Field(ge=0)
    vectors: bool = False


class BacklogRequested(CamelPayload):
    """Queue every supported document of the docs folder (or a sub-folder of it)."""

    folder: str | None = None  # relative to JOELCLAW_DOCS_DIR; default the whole folder
    max_entries: int | None = Field(None, ge=1)
    only_missing: bool = True  # skip documents already in the index
    idempotency_prefix: str | None = None
    batch_size: int | None = Field(None, ge=1, le=1000)  # default JOELCLAW_DOCS_BACKLOG_BATCH_SIZE
    pace_seconds: float | None = Field(None, ge=0)  # default JOELCLAW_DOCS_BACKLOG_PACE_SECONDS
    reason: str | None = None


MODELS: dict[str, type[BaseModel]] = {
    "docs/ingest.requested": IngestRequested,
    "docs/ingest.completed": IngestCompleted,
    "docs/backlog.requested": BacklogRequested,
}


