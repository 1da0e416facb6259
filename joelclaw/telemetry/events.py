"""Telemetry events: what went wrong (step errors, failed runs) and what is worth counting
(LLM calls, escalations), stored in Typesense's `otel_events` where `joelclaw otel` and the
o11y triage query them.

Off the hot path: `emit` is one RPUSH onto a capped Redis list (or a command queued into a
pipeline the caller sends anyway); every worker's flusher (plugin.py) moves them into Typesense
in batches (`flush`). Everything stored is redacted first (joelclaw.redaction), so no secret
reaches the collection, whatever the error message or metadata held.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from joelclaw import keys, provenance
from joelclaw.redaction import configured_secrets, redact, redact_text
from joelclaw.telemetry import schema

if TYPE_CHECKING:
    import redis

    from joelclaw.config import Settings
    from joelclaw.integrations.typesense import SearchClient

log = logging.getLogger("joelclaw.telemetry")
LEVELS = ("debug", "info", "warn", "error", "fatal")
BATCH = 500


class TelemetryEvent(BaseModel):
    """One row of `otel_events` (timestamp in ms, the collection's default sort)."""

    timestamp: int = Field(default_factory=lambda: int(time.time() * 1000))
    level: str = "info"
    source: str = "worker"
    component: str
    action: str
    success: bool = True
    duration_ms: int | None = None
    error: str | None = None
    run_id: str | None = None
    function_id: str | None = None
    cost_usd: float | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    # provenance: filled from the step running when the event is built (joelclaw.provenance)
    event_id: str | None = Field(default_factory=lambda: _now("event"))
    step: str | None = Field(default_factory=lambda: _now("step"))

    def document(self, secrets: tuple[str, ...] = ()) -> dict[str, Any]:
        """The redacted Typesense document."""
        metadata = redact(self.metadata, secrets)
        error = redact_text(self.error, secrets)[:4000] if self.error else None
        doc: dict[str, Any] = {
            "timestamp": self.timestamp,
            "date": datetime.fromtimestamp(self.timestamp / 1000, UTC).strftime("%Y-%m-%d"),
            "level": self.level if self.level in LEVELS else "info",
            "source": self.source, "component": self.component, "action": self.action,
            "success": self.success,
            "search_text": " ".join(p for p in (self.component, self.action, error or "",
                                                 json.dumps(metadata)[:1000]) if p)[:3000],
        }
        if self.duration_ms is not None:
            doc["duration_ms"] = max(-(2**31), min(2**31 - 1, int(self.duration_ms)))
        for name in ("run_id", "function_id", "cost_usd", "event_id", "step"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        if error:
            doc["error"] = error
        if metadata:
            doc["metadata_json"] = json.dumps(metadata, sort_keys=True)[:8000]
            doc["metadata_keys"] = sorted(metadata)
        doc["id"] = self.id or hashlib.sha256(json.dumps(
            doc, sort_keys=True).encode()).hexdigest()[:24]
        return doc


def _now(field: str) -> str | None:
    prov = provenance.current()
    return prov[field] or None if prov else None


def emit(client: Any, event: TelemetryEvent, settings: Settings) -> None:
    """Queue one event (redacted now: the list holds no secret either). `client` is a Redis
    client or a pipeline/batch the caller sends."""
    raw = json.dumps(event.document(configured_secrets(settings)))
    client.rpush(keys.OTEL_PENDING, raw)
    client.ltrim(keys.OTEL_PENDING, -settings.telemetry.pending_cap, -1)


def pending(client: redis.Redis) -> int:
    """Events not yet stored: queued, and the batch a flusher is importing."""
    return int(client.llen(keys.OTEL_PENDING)) + int(client.llen(keys.OTEL_FLUSHING))


_ensured: set[str] = set()
_ensure_lock = threading.Lock()


def ensure(search: SearchClient, *, force: bool = False) -> None:
    with _ensure_lock:
        if force or search.url not in _ensured:
            search.ensure_collection(schema.schema())
            _ensured.add(search.url)


# The next batch moves from the queue to the flushing list in one step, so a flusher killed
# mid-import leaves it where the next flusher finds it.
_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('RPUSH', KEYS[2], unpack(items))
  redis.call('LTRIM', KEYS[1], #items, -1)
end
return items
"""
# The imported batch is dropped only by the flusher still holding the lock: one whose lease ran
# out must not drop the batch its successor took next.
_DONE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[2])
end
return 0
"""
FLUSH_LEASE = 60.0  # renewed before each batch; one batch's import takes far less


def flush(client: redis.Redis, search: SearchClient, *, limit: int = 10 * BATCH,
          wait: float = 0.0) -> int:
    """Move pending events into Typesense, BATCH at a time; returns how many were stored.

    One flusher at a time (a lock): another that finds it taken returns 0 at once, as the
    holder is draining the queue, or with `wait` waits up to that many seconds for the holder
    to finish first, so that a reader sees events the holder had taken but not yet stored.
    A batch Typesense refuses or cannot take stays in the flushing list and goes first next
    time; one whose flusher died is imported again (an upsert by id: nothing is doubled)."""
    from joelclaw.coordination.locks import Lock

    lock = Lock(client, keys.OTEL_FLUSH_LOCK, FLUSH_LEASE)
    if not lock.acquire(blocking=wait > 0, timeout=wait):
        if wait > 0:
            log.warning("telemetry: a flusher still holds %s after %.0f s; reading what is "
                        "stored", keys.OTEL_FLUSH_LOCK, wait)
        return 0
    stored = 0
    try:
        while stored < limit and lock.renew():
            raw = client.lrange(keys.OTEL_FLUSHING, 0, -1) \
                or client.eval(_TAKE, 2, keys.OTEL_PENDING, keys.OTEL_FLUSHING, BATCH)
            if not raw:
                break
            docs = [json.loads(item) for item in raw]
            _store(search, docs)
            client.eval(_DONE, 2, keys.OTEL_FLUSH_LOCK, keys.OTEL_FLUSHING, lock.token)
            stored += len(docs)
    finally:
        lock.release()
    return stored


def _store(search: SearchClient, docs: list[dict[str, Any]]) -> None:
    from joelclaw.integrations.http import IntegrationError

    ensure(search)
    try:
        search.import_documents(schema.COLLECTION, docs)
    except IntegrationError as exc:
        if getattr(exc, "status", None) != 404:
            raise
        ensure(search, force=True)  # the collection went away: create it again
        search.import_documents(schema.COLLECTION, docs)
