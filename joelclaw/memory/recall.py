"""Recall: hybrid keyword + vector retrieval over `memory_observations`, with recency decay.

Everything goes out in one multi_search: a keyword search on `observation` per content word of
the query (Typesense 0.24 only drops query words from the right, so one search for a whole
question mostly finds nothing), and (with an embedder) a nearest-neighbour search on
`embedding`, whose hits count only within cosine distance 0.5. The keyword score is the share
of the query's content words an observation matches (typos and prefixes as Typesense allows);
a hit's score is the mean of that and its vector similarity (1 - distance), times
exp(-0.01 x days since it was last seen), halved when stale.
Only `allow` verdicts unless asked. Results are cached 300 s (JOELCLAW_MEMORY_RECALL_CACHE_SECONDS)
under the SHA-256 of the query; storing observations clears that namespace.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import time
from datetime import UTC, datetime
from typing import Any

from joelclaw.integrations.http import HTTPNotFound, IntegrationError
from joelclaw.memory import schema
from joelclaw.memory.observe import RECALL_NAMESPACE
from joelclaw.memory.service import Memory
from joelclaw.memory.store import CANDIDATE_DISTANCE

log = logging.getLogger("joelclaw.memory.recall")
DECAY = 0.01
VERDICTS = ("allow", "hold", "discard")
MAX_WORDS = 8
_WORD = re.compile(r"[a-z0-9][a-z0-9._-]*[a-z0-9]|[a-z0-9]")
_STOPWORDS = (
    "a about after again all also am an and any are as at be been before being but by can "
    "could did do does doing for from had has have having he her here hers him his how i if in "
    "into is it its just me more most my no not now of on once only or other our out over own "
    "please remind same she should so some such tell than that the their them then there these "
    "they this those through to too under until up us very was we were what when where which "
    "while who whom why will with would you your")
STOPWORDS = frozenset(_STOPWORDS.split())


def content_words(query: str) -> list[str]:
    """The query's distinct words that carry meaning, in order, at most eight."""
    words = [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS and len(w) > 1]
    return list(dict.fromkeys(words))[:MAX_WORDS]


def recall(mem: Memory, query: str, *, limit: int = 10, verdicts: tuple[str, ...] = ("allow",),
           now: float | None = None, use_cache: bool = True) -> dict[str, Any]:
    query = " ".join(query.split())
    if not query:
        raise ValueError("recall needs a query")
    unknown = set(verdicts) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdict(s) {sorted(unknown)}: use {', '.join(VERDICTS)}")
    spec = {"q": query, "limit": limit, "verdicts": sorted(verdicts)}
    key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
    ttl = mem.settings.memory.recall_cache_seconds
    if not use_cache or ttl <= 0:
        return search(mem, query, limit=limit, verdicts=verdicts, now=now)
    return mem.cache.fetch(RECALL_NAMESPACE, key, lambda: search(
        mem, query, limit=limit, verdicts=verdicts, now=now), ttl=ttl, tier="shared")


def search(mem: Memory, query: str, *, limit: int, verdicts: tuple[str, ...],
           now: float | None = None) -> dict[str, Any]:
    try:
        return _search(mem, query, limit=limit, verdicts=verdicts, now=now)
    except HTTPNotFound:  # the collection went away since this process reconciled it
        mem.store.ensure(force=True)
        return _search(mem, query, limit=limit, verdicts=verdicts, now=now)


def _search(mem: Memory, query: str, *, limit: int, verdicts: tuple[str, ...],
            now: float | None = None) -> dict[str, Any]:
    store = mem.store
    status = store.ensure()
    mode, note = ("hybrid", "") if status.enabled else ("keyword", status.reason)
    filter_by = f"write_verdict:=[{','.join(verdicts)}]"
    wide = max(limit * 3, 10)
    words = content_words(query) or [query]
    searches: list[dict[str, Any]] = [{
        "collection": store.collection, "q": word, "query_by": "observation",
        "filter_by": filter_by, "per_page": wide, "exclude_fields": schema.EMBEDDING}
        for word in words]
    if status.enabled and store.embedder is not None:
        try:
            vector = store.embedder.embed([query])[0]
            searches.append({
                "collection": store.collection, "q": "*", "filter_by": filter_by,
                "vector_query": f"{schema.EMBEDDING}:([{','.join(f'{x:.6f}' for x in vector)}]"
                                f", k:{wide})", "per_page": wide,
                "exclude_fields": schema.EMBEDDING})
        except IntegrationError as exc:
            mode, note = "keyword", f"keyword-only: the embeddings endpoint failed ({exc})"
    results = store.search.multi_search(searches)
    hits = _fuse(results[:len(words)], results[len(words):], mode,
                 now if now is not None else time.time())
    return {"query": query, "mode": mode, "note": note, "verdicts": list(verdicts),
            "hits": hits[:limit]}


def _fuse(by_word: list[dict[str, Any]], nearest: list[dict[str, Any]], mode: str,
          now: float) -> list[dict[str, Any]]:
    docs: dict[str, dict[str, Any]] = {}
    keyword: dict[str, float] = {}
    vector: dict[str, float] = {}
    for result in by_word:
        for hit in result.get("hits", []):
            doc = hit["document"]
            docs[doc["id"]] = doc
            keyword[doc["id"]] = keyword.get(doc["id"], 0.0) + 1.0 / len(by_word)
    if nearest:
        for hit in nearest[0].get("hits", []):
            distance = float(hit.get("vector_distance", 2.0))
            if distance <= CANDIDATE_DISTANCE:
                doc = hit["document"]
                docs[doc["id"]] = doc
                vector[doc["id"]] = 1.0 - distance
    scored = []
    for doc_id, doc in docs.items():
        if doc.get("superseded_by"):
            continue
        base = ((keyword.get(doc_id, 0.0) + vector.get(doc_id, 0.0)) / 2 if mode == "hybrid"
                else keyword.get(doc_id, 0.0))
        seen = int(doc.get("updated_at") or doc.get("timestamp") or now)
        days = max(0.0, (now - seen) / 86400)
        score = base * math.exp(-DECAY * days) * (0.5 if doc.get("stale") else 1.0)
        scored.append({"id": doc_id, "observation": doc["observation"], "score": round(score, 4),
                       "keyword": round(keyword.get(doc_id, 0.0), 4),
                       "vector": round(vector.get(doc_id, 0.0), 4), "days": round(days, 1),
                       "date": datetime.fromtimestamp(seen, UTC).strftime("%Y-%m-%d"),
                       "category": doc.get("category_id"), "verdict": doc.get("write_verdict"),
                       "stale": bool(doc.get("stale")), "session_id": doc.get("session_id"),
                       "merged_count": doc.get("merged_count", 1)})
    scored.sort(key=lambda h: h["score"], reverse=True)
    return scored


def for_prompt(mem: Memory, prompt: str) -> str:
    """The agent turn's memory block: at most JOELCLAW_MEMORY_RECALL_LIMIT (<= 10) lines. A
    recall failure never fails the turn: it costs the memories, and is logged."""
    limit = min(10, mem.settings.memory.recall_limit)
    try:
        found = recall(mem, prompt[:2000], limit=limit)
    except (IntegrationError, ValueError, OSError) as exc:
        log.warning("recall for the agent turn failed: %s", exc)
        return ""
    return "\n".join(f"- ({h['date']}) {h['observation']}" for h in found["hits"][:limit])


def search_reply(mem: Memory, query: str) -> str | None:
    """The memory half of the gateway's /search; None when memory is not set up."""
    try:
        found = recall(mem, query, limit=5)
    except (IntegrationError, ValueError, OSError) as exc:
        log.info("/search without memory: %s", exc)
        return None
    if not found["hits"]:
        return f"No memory matches “{query}”" + (f" ({found['note']})" if found["note"] else "")
    lines = [f"**{len(found['hits'])} memor{'y' if len(found['hits']) == 1 else 'ies'} "
             f"matching “{query}”** ({found['mode']})", ""]
    lines += [f"- ({h['date']}) {h['observation']}" for h in found["hits"]]
    return "\n".join(lines)
