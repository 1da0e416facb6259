"""The dedupe check of the gate: does this run's event say what a recent run's event said?

`content`: the first run claims its normalised content hash for the window (`SET NX EX`); a
later event with the same hash is linked to that run. `similar`: each function keeps its recent
vectors (run id -> vector, by time) and a new event whose vector is within the threshold of one
is linked to it; the check-and-add holds a short lock per function, so two near-duplicates
arriving together cannot both win. Either way the matched run is written on the skipped run's
error and on the event (`dedupe:<function>`), so the event page, the CLI and explain show it.
A run retried after its check (a worker that died) finds its own claim and goes on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.functions.dedupe import (
    ContentDedupe,
    SimilarDedupe,
    content_hash,
    field_value,
    normalise,
)
from joelclaw.coordination.locks import Lock
from joelclaw.events.store import link_dedupe

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records.runs import Run

log = logging.getLogger("joelclaw.flow.dedupe")
LOCK_LEASE = 10.0


def check(rt: Bus, fn: Function, run: Run) -> dict[str, Any] | None:
    """The link to the run this one duplicates (and records it on the event), or None."""
    spec = fn.flow.dedupe if fn.flow else None
    if spec is None or run.batch:
        return None
    if isinstance(spec, ContentDedupe):
        link = _content(rt, fn, run, spec)
    else:
        link = _similar(rt, fn, run, spec)
    if link is not None:
        link.update(function=fn.id, window=spec.window, at=time.time())
        event_id = str(run.event.get("id") or "")
        if event_id:
            link_dedupe(rt.redis, event_id, fn.id, link)
    return link


def release(rt: Bus, fn: Function, run: Run) -> None:
    """Give back the claim `check` made for `run`, which another admission limit then skipped:
    a later event with the same content is no duplicate of a run that did nothing."""
    spec = fn.flow.dedupe if fn.flow else None
    if isinstance(spec, ContentDedupe):
        from redis.exceptions import WatchError  # here: the CLI's explain imports this module

        key = keys.flow_dedupe(fn.id, content_hash(spec, run.event))
        # WatchError: claimed anew meanwhile, not ours any more
        with rt.redis.pipeline(transaction=True) as pipe, contextlib.suppress(WatchError):
            pipe.watch(key)
            held = pipe.get(key)
            if held is not None and json.loads(held).get("run") == run.id:
                pipe.multi()
                pipe.delete(key)
                pipe.execute()
    elif isinstance(spec, SimilarDedupe):
        pipe = rt.redis.pipeline(transaction=True)
        pipe.zrem(keys.flow_similar(fn.id), run.id)
        pipe.hdel(keys.flow_similar_vectors(fn.id), run.id)
        pipe.execute()


def reason(link: dict[str, Any]) -> str:
    """The words on the skipped run and in explain."""
    how = (f"similarity {link['similarity']:.3f} >= {link['threshold']:g}"
           if link.get("kind") == "similar" else "same normalised content")
    return (f"dedupe: duplicates run {link['run']} (event {link.get('event') or '?'}, {how}, "
            f"within {link['window']:g}s)")


def _content(rt: Bus, fn: Function, run: Run, spec: ContentDedupe) -> dict[str, Any] | None:
    digest = content_hash(spec, run.event)
    key = keys.flow_dedupe(fn.id, digest)
    claim = json.dumps({"run": run.id, "event": run.event.get("id")})
    if rt.redis.set(key, claim, nx=True, ex=max(1, int(spec.window))):
        return None
    held = json.loads(rt.redis.get(key) or claim)
    if held.get("run") == run.id:
        return None
    return {"kind": "content", "run": held.get("run"), "event": held.get("event"),
            "hash": digest}


def _similar(rt: Bus, fn: Function, run: Run, spec: SimilarDedupe) -> dict[str, Any] | None:
    text = normalise(field_value(run.event, spec.field))
    if not text:
        return None
    vector, model = _embed(rt, text)
    now = time.time()
    recent, vectors = keys.flow_similar(fn.id), keys.flow_similar_vectors(fn.id)
    with Lock(rt.redis, keys.lock(f"dedupe:{fn.id}"), LOCK_LEASE):
        expired = rt.redis.zrangebyscore(recent, "-inf", now - spec.window)
        if expired:
            rt.redis.zrem(recent, *expired)
            rt.redis.hdel(vectors, *expired)
        best: tuple[float, dict[str, Any]] | None = None
        for raw in rt.redis.hvals(vectors):
            other = json.loads(raw)
            if other.get("run") == run.id:
                return None  # this run's own entry: it passed the check before
            score = _cosine(vector, other["vector"]) if vector is not None else \
                (1.0 if other.get("text") == text else 0.0)
            if score >= spec.threshold and (best is None or score > best[0]):
                best = (score, other)
        if best is None:
            entry = {"run": run.id, "event": run.event.get("id"), "vector": vector,
                     "text": None if vector is not None else text}
            pipe = rt.redis.pipeline(transaction=True)
            pipe.zadd(recent, {run.id: now})
            pipe.hset(vectors, run.id, json.dumps(entry))
            pipe.expire(recent, int(spec.window) + 60)
            pipe.expire(vectors, int(spec.window) + 60)
            pipe.execute()
            return None
    score, other = best
    return {"kind": "similar", "run": other["run"], "event": other.get("event"),
            "similarity": round(score, 4), "threshold": spec.threshold,
            "model": model or "exact text (no embeddings configured)"}


def _embed(rt: Bus, text: str) -> tuple[list[float] | None, str]:
    """The text's vector from the configured embedder; (None, '') when there is none."""
    from joelclaw.integrations.embeddings import make_embedder

    embedder = make_embedder(rt.settings)
    if embedder is None:
        return None, ""
    try:
        return embedder.embed([text])[0], embedder.model
    finally:
        close = getattr(embedder, "close", None)
        if close is not None:
            close()


def _cosine(a: list[float], b: list[float] | None) -> float:
    if not b:
        return 0.0
    return sum(x * y for x, y in zip(a, b, strict=False))  # both are L2-normalised
