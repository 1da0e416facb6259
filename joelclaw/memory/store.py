"""Storing observations in Typesense: every verdict kept, near-duplicates merged, retries safe.

A fact merges into an existing observation when they say the same thing: with embeddings, the
nearest neighbour within cosine distance 0.1, or within 0.5 with token Jaccard >= 0.85 (the old
system's candidate-then-confirm rule); without, the best of a keyword search with token Jaccard
>= 0.85. A merge bumps `merged_count` and `updated_at` and records the fact's id in `merged_ids`,
and a fact's document id derives from its session and text, so a step that failed half-way and
runs again neither duplicates an observation nor counts a merge twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from joelclaw import provenance
from joelclaw.integrations.embeddings import Embedder
from joelclaw.integrations.http import HTTPNotFound, IntegrationError
from joelclaw.integrations.typesense import SearchClient
from joelclaw.memory import schema
from joelclaw.memory.model import TAXONOMY_VERSION, WRITE_GATE_VERSION, Fact
from joelclaw.memory.text import DEDUP_THRESHOLD, jaccard, normalize

log = logging.getLogger("joelclaw.memory.store")

DUPLICATE_DISTANCE = 0.1
CANDIDATE_DISTANCE = 0.5
_ensured: dict[tuple[str, str, str], schema.VectorStatus] = {}
_ensure_lock = threading.Lock()


@dataclass
class StoreResult:
    inserted: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    vector: bool = False
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"inserted": self.inserted, "merged": self.merged, "already": self.already,
                "vector": self.vector, "note": self.note}


def doc_id(session_id: str, text: str) -> str:
    digest = hashlib.sha1(f"{session_id}\0{normalize(text, 100000)}".encode()).hexdigest()
    return f"obs-{digest[:24]}"


class ObservationStore:
    """`memory_observations` on one Typesense, with an optional embedder for vectors."""

    def __init__(self, search: SearchClient, embedder: Embedder | None,
                 collection: str = schema.COLLECTION) -> None:
        self.search = search
        self.embedder = embedder
        self.collection = collection

    # -- schema --------------------------------------------------------------------------

    def ensure(self, *, force: bool = False) -> schema.VectorStatus:
        """Reconcile the collection once per process (and whenever `force`)."""
        model = getattr(self.embedder, "model", "") if self.embedder else ""
        key = (self.search.url, self.collection, model)
        with _ensure_lock:
            if not force and key in _ensured:
                return _ensured[key]
            dimensions, error = None, ""
            if self.embedder is not None:
                try:
                    dimensions = len(self.embedder.embed(["dimension probe"])[0])
                except (IntegrationError, IndexError) as exc:
                    error = str(exc)
            wanted = schema.schema(dimensions)
            wanted["name"] = self.collection
            done = self.search.ensure_collection(wanted)
            status = schema.vector_status(done.fields, dimensions, error)
            if not status.enabled:
                log.info("memory search is %s", status.reason)
            if not error:  # an embeddings outage is re-probed next time, not remembered
                _ensured[key] = status
            return status

    # -- writes --------------------------------------------------------------------------

    def store(self, facts: list[Fact], *, session_id: str, source: str,
              dedupe_key: str | None = None, now: float | None = None) -> StoreResult:
        """Store (or merge) every fact; safe to call again with the same facts."""
        try:
            return self._store(facts, session_id, source, dedupe_key, now)
        except HTTPNotFound:  # the collection went away since it was reconciled: once more
            self.ensure(force=True)
            return self._store(facts, session_id, source, dedupe_key, now)

    def _store(self, facts: list[Fact], session_id: str, source: str, dedupe_key: str | None,
               now: float | None) -> StoreResult:
        status = self.ensure()
        stamp = int(now if now is not None else time.time())
        result = StoreResult(vector=status.enabled, note=status.reason)
        vectors = self._vectors([f.text for f in facts], result) if status.enabled else None
        fresh: list[dict[str, Any]] = []
        for index, fact in enumerate(facts):
            vector = vectors[index] if vectors else None
            fid = doc_id(session_id, fact.text)
            if any(d["id"] == fid for d in fresh) or self.search.get(self.collection, fid):
                result.already.append(fid)
                continue
            local = _local_duplicate(fresh, fact.text, vector)
            if local is not None:
                local["merged_count"] += 1
                local["merged_ids"].append(fid)
                result.merged.append(local["id"])
                continue
            existing = self._duplicate(fact.text, vector)
            if existing is not None:
                if fid not in (existing.get("merged_ids") or []):
                    self.search.update(self.collection, existing["id"], {
                        "merged_count": int(existing.get("merged_count") or 1) + 1,
                        "updated_at": stamp,
                        "merged_ids": [*(existing.get("merged_ids") or []), fid]})
                result.merged.append(existing["id"])
                continue
            fresh.append(_document(fid, fact, session_id, source, dedupe_key, stamp, vector))
        self.search.import_documents(self.collection, fresh)
        result.inserted = [d["id"] for d in fresh]
        return result

    def _vectors(self, texts: list[str], result: StoreResult) -> list[list[float]] | None:
        assert self.embedder is not None
        try:
            return self.embedder.embed(texts)
        except IntegrationError as exc:
            # Never lose observations to an embeddings outage: store them without vectors.
            result.vector, result.note = False, f"stored without vectors: {exc}"
            return None

    def _duplicate(self, text: str, vector: list[float] | None) -> dict[str, Any] | None:
        if vector is not None:
            hits = self.nearest(vector, k=1)
            if hits:
                doc, distance = hits[0]
                if distance <= DUPLICATE_DISTANCE or (
                        distance <= CANDIDATE_DISTANCE and jaccard(text, doc["observation"])
                        >= DEDUP_THRESHOLD):
                    return doc
            return None
        answer = self.search.search(self.collection, {
            "q": text[:500], "query_by": "observation", "per_page": 5, "prefix": "false",
            "exclude_fields": schema.EMBEDDING})
        scored = [(jaccard(text, h["document"]["observation"]), h["document"])
                  for h in answer.get("hits", [])]
        best = max(scored, key=lambda pair: pair[0], default=None)
        return best[1] if best and best[0] >= DEDUP_THRESHOLD else None

    def nearest(self, vector: list[float], k: int = 10, filter_by: str | None = None
                ) -> list[tuple[dict[str, Any], float]]:
        search: dict[str, Any] = {
            "collection": self.collection, "q": "*",
            "vector_query": f"{schema.EMBEDDING}:([{','.join(f'{x:.6f}' for x in vector)}], "
                            f"k:{k})",
            "per_page": k, "exclude_fields": schema.EMBEDDING}
        if filter_by:
            search["filter_by"] = filter_by
        [result] = self.search.multi_search([search])
        return [(h["document"], float(h.get("vector_distance", 2.0)))
                for h in result.get("hits", [])]

    def get(self, observation_id: str) -> dict[str, Any] | None:
        return self.search.get(self.collection, observation_id)


def _local_duplicate(fresh: list[dict[str, Any]], text: str, vector: list[float] | None
                     ) -> dict[str, Any] | None:
    for doc in fresh:
        if jaccard(text, doc["observation"]) >= DEDUP_THRESHOLD:
            return doc
        other = doc.get(schema.EMBEDDING)
        if vector is not None and other is not None:
            distance = 1.0 - sum(a * b for a, b in zip(vector, other, strict=False))
            if distance <= DUPLICATE_DISTANCE:
                return doc
    return None


def _document(fid: str, fact: Fact, session_id: str, source: str, dedupe_key: str | None,
              stamp: int, vector: list[float] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": fid, "session_id": session_id, "observation": fact.text,
        "observation_type": fact.observation_type, "source": source, "timestamp": stamp,
        "merged_count": 1, "updated_at": stamp, "stale": False, "recall_count": 0,
        "retrieval_priority": 0.0, "write_verdict": fact.verdict,
        "write_confidence": fact.confidence, "write_reason": fact.reason,
        "write_gate_version": WRITE_GATE_VERSION, "write_gate_fallback": fact.fallback,
        "category_id": fact.category_id, "category_confidence": fact.category_confidence,
        "category_source": fact.category_source, "taxonomy_version": TAXONOMY_VERSION,
        "importance": fact.importance, "merged_ids": [],
    }
    if dedupe_key:
        doc["dedupe_key"] = dedupe_key
    provenance.stamp(doc)
    if vector is not None:
        doc[schema.EMBEDDING] = vector
    return doc
