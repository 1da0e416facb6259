"""The observe pipeline's steps (tasks/memory.py runs each as a durable step).

Dedupe: a lock per dedupe key whose owner token is the run id (a retried run takes it again, a
repeat from another run does not), and a done marker once the run finished, so a repeat days
later is deduplicated too. A failed run releases its lock: sending the session again works.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from joelclaw import keys, provenance
from joelclaw.coordination.locks import Lock
from joelclaw.memory.model import Fact
from joelclaw.memory.observer import observe
from joelclaw.memory.service import Memory

RECALL_NAMESPACE = "recall"


def day(now: float | None = None) -> str:
    return datetime.fromtimestamp(now if now is not None else time.time(), UTC).strftime(
        "%Y-%m-%d")


def _lock(mem: Memory, dedupe_key: str, run_id: str) -> Lock:
    return Lock(mem.redis, keys.memory_observe_lock(dedupe_key), keys.MEMORY_OBSERVE_LOCK_TTL,
                token=run_id)


def claim(mem: Memory, dedupe_key: str, run_id: str) -> bool:
    """True when this run is the one to observe this session."""
    if mem.redis.exists(keys.memory_observe_done(dedupe_key)):
        return False
    return _lock(mem, dedupe_key, run_id).acquire()


def release(mem: Memory, dedupe_key: str, run_id: str) -> bool:
    return _lock(mem, dedupe_key, run_id).release()


def mark_done(mem: Memory, dedupe_key: str, run_id: str) -> None:
    mem.redis.set(keys.memory_observe_done(dedupe_key), run_id,
                  ex=keys.MEMORY_OBSERVE_DONE_TTL)


def call_observer(mem: Memory, transcript: str, session_name: str | None,
                  files: list[str]) -> list[dict[str, Any]]:
    llm = mem.llm(purpose="memory observation")
    try:
        observed = observe(llm, transcript, session_name=session_name, files=files)
    finally:
        llm.close()
    return [f.model_dump() for f in observed.facts]


def store(mem: Memory, facts: list[dict[str, Any]], *, session_id: str, source: str,
          dedupe_key: str, now: float | None = None) -> dict[str, Any]:
    result = mem.store.store([Fact.model_validate(f) for f in facts], session_id=session_id,
                             source=source, dedupe_key=dedupe_key, now=now)
    mem.cache.invalidate_pattern(f"{RECALL_NAMESPACE}:*")  # recall sees them at once
    return result.as_dict()


def append_daily_log(mem: Memory, facts: list[dict[str, Any]], *, session_id: str,
                     dedupe_key: str, trigger: str, date: str) -> bool:
    lines = [f"### 🧠 Observed ({trigger}, session {session_id})"]
    for f in facts:
        mark = {"allow": "", "hold": " (held)", "discard": " (discarded)"}[f["verdict"]]
        lines.append(f"- {f['text']}{mark}")
    return mem.daily.append_once(date, f"session:{dedupe_key}", "\n".join(lines))


def update_state(mem: Memory, facts: list[dict[str, Any]], stored: dict[str, Any], *,
                 session_id: str, dedupe_key: str, trigger: str, date: str) -> dict[str, Any]:
    """`latest:<date>` and, once per session, its allowed facts on `observations:<date>`."""
    allowed = [f for f in facts if f["verdict"] == "allow"]
    summary = "\n".join(f"- {f['text']}" for f in allowed)
    item = json.dumps({"summary": summary, "metadata": {
        "session_id": session_id, "dedupe_key": dedupe_key, "trigger": trigger,
        "counts": {"facts": len(facts), "allowed": len(allowed),
                   "inserted": len(stored["inserted"]), "merged": len(stored["merged"])},
        "typesense": {"inserted": stored["inserted"], "merged": stored["merged"]},
        **({"prov": prov} if (prov := provenance.current()) else {})}})
    seen = keys.memory_observed_sessions(date)
    pipe = mem.redis.pipeline(transaction=True)
    pipe.sadd(seen, dedupe_key)
    pipe.expire(seen, keys.MEMORY_OBSERVATIONS_TTL)
    added = pipe.execute()[0]
    pipe = mem.redis.pipeline(transaction=True)
    pipe.set(keys.memory_latest(date), item, ex=keys.MEMORY_OBSERVATIONS_TTL)
    if added:
        pipe.rpush(keys.memory_observations(date), item)
    pipe.expire(keys.memory_observations(date), keys.MEMORY_OBSERVATIONS_TTL)
    pipe.execute()
    count = int(mem.redis.llen(keys.memory_observations(date)))
    tokens = sum(len(json.loads(raw).get("summary", "")) // 4
                 for raw in mem.redis.lrange(keys.memory_observations(date), 0, -1))
    return {"date": date, "observation_count": count, "total_tokens": tokens,
            "reflectable": len(allowed)}
