"""Runs and their traces, stored in Redis: what ran, when, how often, and what came out.

A run record is a Redis hash (flat strings, cheap partial updates); its steps are a second hash
of JSON trace records whose input/output is size-capped; memoized step results, which replays
need in full, live in a third hash. Terminal runs expire after the retention period.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

import redis
from pydantic import BaseModel, Field

from joelclaw import keys
from joelclaw.redaction import redact

STATUSES = (
    "queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled", "skipped",
)
TERMINAL = frozenset({"completed", "failed", "cancelled", "skipped"})
OPTIONAL_FIELDS = frozenset({"priority", "batch", "admitted", "throttle_at", "held", "holds",
                             "rerun_from"})
PREVIEW_LIMIT = 8 * 1024


def new_run_id() -> str:
    """Time-ordered ids (ms prefix) sort naturally in listings."""
    return f"run-{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:8]}"


def now() -> float:
    return time.time()


class Run(BaseModel):
    id: str
    function: str
    status: str = "queued"
    trigger: str = "event"  # event | cron | invoke | replay | rerun
    event: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=now)
    started_at: float | None = None
    ended_at: float | None = None
    attempts: int = 0  # failed attempts outside steps (function-level retry counter)
    executions: int = 0
    output: Any = None
    error: dict[str, Any] | None = None
    parent: dict[str, Any] | None = None  # {"run": id, "step": key} when invoked
    replay_of: str | None = None
    cancel_requested: bool = False
    queue_delay_ms: float = 0.0
    execution_ms: float = 0.0
    # Flow control (written only when set, so plain runs stay as small as before)
    priority: int | None = None  # broker level, 0 highest
    batch: list[dict[str, Any]] | None = None  # the events of a batched run
    admitted: bool = False  # singleton/idempotency/rate limit passed (decided once)
    throttle_at: float | None = None  # the start time throttling reserved for this run
    held: dict[str, Any] | None = None  # the limit holding this queued run right now
    holds: list[dict[str, Any]] = Field(default_factory=list)  # past holds, for the trace
    rerun_from: str | None = None  # the failed step a rerun starts from

    def to_redis(self) -> dict[str, str]:
        data = self.model_dump()
        return {k: json.dumps(v) for k, v in data.items()
                if k not in OPTIONAL_FIELDS or _is_set(v)}

    @classmethod
    def from_redis(cls, raw: dict[bytes, bytes]) -> Run:
        return cls(**{k.decode(): json.loads(v) for k, v in raw.items()})

    @classmethod
    def from_flat(cls, flat: list[bytes]) -> Run | None:
        """From a Lua HGETALL reply (alternating fields and values)."""
        return cls.from_redis(dict(zip(flat[::2], flat[1::2], strict=True))) if flat else None

    @property
    def event_id(self) -> str | None:
        return self.event.get("id")

    @property
    def duration_ms(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.created_at) * 1000, 1)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "function": self.function, "status": self.status,
            "trigger": self.trigger, "event_name": self.event.get("name"),
            "event_id": self.event_id, "created_at": self.created_at,
            "started_at": self.started_at, "ended_at": self.ended_at,
            "duration_ms": self.duration_ms, "attempts": self.attempts,
            "queue_delay_ms": round(self.queue_delay_ms, 1),
            "execution_ms": round(self.execution_ms, 1),
        }


def _is_set(value: Any) -> bool:
    return value is not None and value is not False and value != []


def preview(value: Any, limit: int = PREVIEW_LIMIT) -> Any:
    """A redacted, size-capped copy of a value for the trace (the memo keeps the original)."""
    redacted = redact(value)
    text = json.dumps(redacted, default=str)
    if len(text) <= limit:
        return redacted
    return {"truncated": True, "bytes": len(text), "head": text[:limit]}


class RunStore:
    """Create, update, read and list runs. Every write is one round trip."""

    def __init__(self, client: redis.Redis, retention_seconds: float):
        self.redis = client
        self.retention = int(retention_seconds)

    def get(self, run_id: str) -> Run | None:
        raw = self.redis.hgetall(keys.run(run_id))
        return Run.from_redis(raw) if raw else None

    def update(self, run_id: str, pipe: Any = None, **fields: Any) -> None:
        """Write fields; terminal runs start their retention clock. Batches into `pipe`."""
        own = pipe is None
        pipe = self.redis.pipeline(transaction=True) if own else pipe
        pipe.hset(keys.run(run_id), mapping={k: json.dumps(v) for k, v in fields.items()})
        if fields.get("status") in TERMINAL:
            for key in (keys.run(run_id), keys.run_steps(run_id), keys.run_memo(run_id)):
                pipe.expire(key, self.retention)
        if own:
            pipe.execute()

    def status(self, run_id: str) -> str | None:
        raw = self.redis.hget(keys.run(run_id), "status")
        return json.loads(raw) if raw else None

    def record_step(self, run_id: str, key: str, record: dict[str, Any]) -> None:
        self.redis.hset(keys.run_steps(run_id), key, json.dumps(record, default=str))

    def step(self, run_id: str, key: str) -> dict[str, Any] | None:
        raw = self.redis.hget(keys.run_steps(run_id), key)
        return json.loads(raw) if raw else None

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        records = [json.loads(v) for v in self.redis.hgetall(keys.run_steps(run_id)).values()]
        return sorted(records, key=lambda r: (r.get("started_at") or 0, r.get("key", "")))

    def memo(self, run_id: str) -> dict[str, Any]:
        raw = self.redis.hgetall(keys.run_memo(run_id))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def trace(self, run_id: str) -> dict[str, Any] | None:
        run = self.get(run_id)
        if run is None:
            return None
        return {**run.summary(), "event": run.event, "output": preview(run.output),
                "error": run.error, "parent": run.parent, "replay_of": run.replay_of,
                "rerun_from": run.rerun_from, "priority": run.priority,
                "held": run.held, "holds": run.holds, "steps": self.steps(run_id)}

    def list(
        self,
        *,
        function: str | None = None,
        status: Iterable[str] | None = None,
        since: float | None = None,
        until: float | None = None,
        event_name: str | None = None,
        limit: int = 50,
        scan_limit: int = 20000,
    ) -> list[Run]:
        """Newest first; filters applied while scanning the index in pages."""
        index = keys.runs_of_function(function) if function else keys.RUN_INDEX
        statuses = set(status or ())
        low = "-inf" if since is None else since * 1000
        high = "+inf" if until is None else until * 1000
        found: list[Run] = []
        offset, page = 0, 200
        while len(found) < limit and offset < scan_limit:
            ids = self.redis.zrevrangebyscore(index, high, low, start=offset, num=page)
            if not ids:
                break
            offset += len(ids)
            pipe = self.redis.pipeline(transaction=False)
            for run_id in ids:
                pipe.hgetall(keys.run(run_id.decode()))
            for raw in pipe.execute():
                if not raw:
                    continue
                run = Run.from_redis(raw)
                if statuses and run.status not in statuses:
                    continue
                if event_name and run.event.get("name") != event_name:
                    continue
                found.append(run)
                if len(found) >= limit:
                    break
        return found

    def counts(self, limit: int = 1000) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.list(limit=limit):
            counts[run.status] = counts.get(run.status, 0) + 1
        return counts

    def prune_index(self, batch: int = 1000) -> int:
        """Drop index entries whose run expired (retention); keep live long-sleeping runs."""
        cutoff = (now() - self.retention) * 1000
        removed = 0
        ids = self.redis.zrangebyscore(keys.RUN_INDEX, "-inf", cutoff, start=0, num=batch)
        if not ids:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for run_id in ids:
            pipe.exists(keys.run(run_id.decode()))
        gone = [run_id for run_id, alive in zip(ids, pipe.execute(), strict=True) if not alive]
        if gone:
            pipe = self.redis.pipeline(transaction=False)
            pipe.zrem(keys.RUN_INDEX, *gone)
            for fn_key in self.redis.scan_iter(match=keys.runs_of_function("*"), count=500):
                pipe.zrem(fn_key, *gone)
            removed = len(gone)
            pipe.execute()
        return removed
