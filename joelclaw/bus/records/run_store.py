"""The run store: the one owner of run records, step traces and memo records in Redis.

A run is one hash (`joelclaw.bus.records.runs` encodes it): the record's fields, each step's trace
record (JSON with size-capped previews) and each step's memo record (`joelclaw.bus.records.memo`,
the full result that replays need). Terminal runs expire after the retention period. Writes take an
optional pipeline so a caller can batch them into one round trip.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.records import memo, runs, wakeups
from joelclaw.bus.records.memo import Done, Failed, Memo
from joelclaw.bus.records.previews import preview
from joelclaw.bus.records.runs import TERMINAL, Run, StepTrace
from joelclaw.bus.records.scripts import Scripts
from joelclaw.events import index_backlog
from joelclaw.redisconn import paging

if TYPE_CHECKING:
    import redis

Pipe = Any  # a redis pipeline
Record = StepTrace | Mapping[str, Any]  # a step's trace record, or its fields


def _step_json(record: Record) -> str:
    """A step's trace record as stored: the fields that were set (previews are already
    capped), anything JSON cannot say as its string."""
    if isinstance(record, StepTrace):
        fields = record.stored()
    else:
        fields = record if isinstance(record, dict) else dict(record)
    return _STEP_JSON.encode(fields)


def _plain(value: Any) -> Any:
    """What JSON cannot say: a model as its fields (as `model_dump` gave them), else text."""
    dump = getattr(value, "model_dump", None)
    return dump() if callable(dump) else str(value)


_STEP_JSON = json.JSONEncoder(default=_plain)  # json.dumps(..., default=_plain), built once


def _hset(target: Pipe, key: str, field: str, value: str) -> None:
    """One field's HSET, as the raw command (redis-py's `hset` sorts out mappings and item
    lists first: a step writes two fields, and this runs twice per step)."""
    target.execute_command("HSET", key, field, value)


def _step(raw: bytes | str) -> StepTrace:
    return StepTrace.model_validate(json.loads(raw))


@dataclass
class Loaded:
    """A run as an execution starts it: the record, its trace and its memo."""

    run: Run | None
    trace: dict[str, StepTrace]
    memo: dict[str, Memo]


_PREFIX = len(runs.TRACE)  # of trace and memo fields alike: one slice tells them apart
assert len(runs.MEMO) == _PREFIX


def _split(raw: Mapping[bytes, bytes]) -> Loaded:
    """A run hash as its record, trace records and memo records."""
    return _split_pairs(raw.items(), bool(raw))


def _split_pairs(pairs: Iterable[tuple[bytes, bytes]], present: bool) -> Loaded:
    """The same from the hash's (field, value) pairs, in one pass: every execution starts
    by decoding its run this way."""
    trace: dict[str, StepTrace] = {}
    records: dict[str, Memo] = {}
    fields: dict[str, Any] = {}
    prefix = _PREFIX
    for field, value in pairs:
        if runs.record_raw_field(fields, field, value):
            continue
        name = field.decode()
        head = name[:prefix]
        if head == runs.TRACE:
            trace[name[prefix:]] = _step(value)
        elif head == runs.MEMO:
            records[name[prefix:]] = memo.decode(value)
        else:
            runs.record_field(fields, name, value)
    return Loaded(run=Run.model_validate(fields) if present else None, trace=trace,
                  memo=records)


class RunStore:
    """Create, update, read and list runs."""

    def __init__(self, client: redis.Redis, scripts: Scripts, retention_seconds: float,
                 grace_seconds: float = 120.0):
        self.redis, self.scripts = client, scripts
        self.retention = int(retention_seconds)
        self.grace = grace_seconds  # the safety wake-up of a run woken and published

    # ---- the run record --------------------------------------------------------------------

    def loaded(self, flat: list[Any]) -> Loaded:
        """Decode the run hash the lease's begin script read (fields and values, flat)."""
        return _split_pairs(zip(flat[::2], flat[1::2], strict=True), bool(flat))

    def get(self, run_id: str) -> Run | None:
        return runs.decode_fields(self.redis.hmget(keys.run(run_id), runs.RECORD_FIELDS))

    def update(self, run_id: str, pipe: Pipe = None, **fields: Any) -> None:
        """Write fields; terminal runs start their retention clock. Batches into `pipe`."""
        own = pipe is None
        pipe = self.redis.pipeline(transaction=True) if own else pipe
        pipe.hset(keys.run(run_id), mapping=runs.encode_fields(fields))
        if fields.get("status") in TERMINAL:
            pipe.expire(keys.run(run_id), self.retention)
        if own:
            pipe.execute()

    def status(self, run_id: str) -> str | None:
        raw = self.redis.hget(keys.run(run_id), "status")
        return runs.decode_value("status", raw) if raw is not None else None

    def statuses(self, run_ids: list[str]) -> list[str | None]:
        pipe = self.redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hget(keys.run(run_id), "status")
        return [runs.decode_value("status", s) if s is not None else None
                for s in (pipe.execute() if run_ids else [])]

    def route(self, run_id: str) -> tuple[str, int | None] | None:
        """The function and broker priority a wake-up publishes the run with; None if gone."""
        function, priority = self.redis.hmget(keys.run(run_id), "function", "priority")
        if function is None:
            return None
        return (runs.decode_value("function", function),
                runs.decode_value("priority", priority) if priority is not None else None)

    def functions_of(self, run_ids: list[str]) -> list[str | None]:
        pipe = self.redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hget(keys.run(run_id), "function")
        return [runs.decode_value("function", f) if f is not None else None
                for f in (pipe.execute() if run_ids else [])]

    def request_cancel(self, run_id: str, reason: str) -> None:
        self.update(run_id, cancel_requested=True, cancel_reason=reason)

    def cancel_reason(self, run_id: str) -> str | None:
        raw = self.redis.hget(keys.run(run_id), "cancel_reason")
        return runs.decode_value("cancel_reason", raw) if raw else None

    # ---- trace and memo ----------------------------------------------------------------------

    def write_step(self, run_id: str, key: str, record: Record, pipe: Pipe = None) -> None:
        _hset(pipe if pipe is not None else self.redis, keys.run(run_id), runs.TRACE + key,
              _step_json(record))

    def step(self, run_id: str, key: str) -> StepTrace | None:
        raw = self.redis.hget(keys.run(run_id), runs.TRACE + key)
        return _step(raw) if raw else None

    def steps(self, run_id: str) -> list[StepTrace]:
        return _ordered(_split(self.redis.hgetall(keys.run(run_id))).trace)

    def step_counts(self, run_ids: list[str]) -> list[int]:
        """How many steps each run traced (reads field names only)."""
        pipe = self.redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hkeys(keys.run(run_id))
        replies = pipe.execute() if run_ids else []
        prefix = runs.TRACE.encode()
        return [sum(1 for name in names if name.startswith(prefix)) for names in replies]

    def memo(self, run_id: str) -> dict[str, Memo]:
        return _split(self.redis.hgetall(keys.run(run_id))).memo

    def memo_record(self, run_id: str, key: str) -> Memo | None:
        raw = self.redis.hget(keys.run(run_id), runs.MEMO + key)
        return memo.decode(raw) if raw else None

    def save_memo(self, run_id: str, key: str, record: Memo | str, pipe: Pipe = None) -> None:
        """Store a memo record (or one already encoded, to keep the encoding error early)."""
        encoded = record if isinstance(record, str) else memo.encode(record)
        _hset(pipe if pipe is not None else self.redis, keys.run(run_id), runs.MEMO + key, encoded)

    def seed(self, run_id: str, records: Mapping[str, Memo], trace: Mapping[str, Record]
             ) -> None:
        """A rerun's reused steps, stored before the run can execute."""
        mapping = {runs.MEMO + k: memo.encode(v) for k, v in records.items()}
        mapping.update({runs.TRACE + k: _step_json(v) for k, v in trace.items()})
        if mapping:
            self.redis.hset(keys.run(run_id), mapping=mapping)

    # ---- things a step waits for -------------------------------------------------------------

    def resolve(self, claim_key: str, claim_field: str, run_id: str, step_key: str,
                record: Memo, *, wake: bool) -> bool:
        """Store `record` for a waiting step if this caller is the first to claim it.

        The claim is a field of a registry hash (a wait in `jc:waits:<event>`, an invoke in the
        run's pending hash): whoever deletes it first stores the result, exactly once. With
        `wake`, the caller publishes the run next; its wake-up is the safety net if that fails.
        The record is stamped with the time it was stored: when the step really ended.
        """
        if isinstance(record, Done | Failed) and record.at is None:
            record = dataclasses.replace(record, at=time.time())
        return bool(self.scripts.resolve(
            keys=[claim_key, keys.run(run_id), wakeups.SETS.outbox],
            args=[claim_field, runs.MEMO + step_key, memo.encode(record),
                  time.time() + self.grace, run_id if wake else ""]))

    def mark_invoking(self, run_id: str, step_key: str, pipe: Pipe = None) -> None:
        """The step's claim: whoever resolves it first (result, failure, timeout) wins."""
        target = pipe if pipe is not None else self.redis
        target.hset(keys.run_pending(run_id), step_key, "1")

    def resolve_invoke(self, run_id: str, step_key: str, record: Memo, *, wake: bool) -> bool:
        return self.resolve(keys.run_pending(run_id), step_key, run_id, step_key, record,
                            wake=wake)

    def member_done(self, run_id: str, step_key: str, index: int) -> int:
        """Record a finished parallel member; how many members have finished."""
        done = keys.parallel_done(run_id, step_key)
        pipe = self.redis.pipeline()
        pipe.sadd(done, index)
        pipe.scard(done)
        pipe.expire(done, keys.PARALLEL_DONE_TTL)
        return int(pipe.execute()[1])

    # ---- reading many ------------------------------------------------------------------------

    def load(self, run_id: str) -> Loaded:
        """A run's record, trace and memo in one read."""
        return _split(self.redis.hgetall(keys.run(run_id)))

    def trace(self, run_id: str) -> dict[str, Any] | None:
        """The stored trace as written (views read `joelclaw.insight.trace`, which settles what
        a record alone cannot say)."""
        return trace_of(self.load(run_id))

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
        """Newest first; filters applied while scanning the index in pages (each run once,
        however many runs start meanwhile: `paging.newest_first`)."""
        index_backlog.catch_up(self.redis)
        index = keys.runs_of_function(function) if function else keys.RUN_INDEX
        statuses = set(status or ())
        low = "-inf" if since is None else since * 1000
        high = "+inf" if until is None else until * 1000
        found: list[Run] = []
        scanned = 0
        if limit <= 0:
            return found
        for ids in paging.newest_first(self.redis, index, high, low):
            scanned += len(ids)
            pipe = self.redis.pipeline(transaction=False)
            for run_id in ids:
                pipe.hmget(keys.run(run_id.decode()), runs.RECORD_FIELDS)
            for values in pipe.execute():
                run = runs.decode_fields(values)
                if run is None:
                    continue
                if statuses and run.status not in statuses:
                    continue
                if event_name and run.event.get("name") != event_name:
                    continue
                found.append(run)
                if len(found) >= limit:
                    break
            if len(found) >= limit or scanned >= scan_limit:
                break
        return found

    def heads(self, run_ids: builtins.list[str], fields: Iterable[str] = runs.RECORD_FIELDS
              ) -> builtins.list[Run | None]:
        """A few record fields of many runs in one round trip (None for a run that expired);
        a page of 50 runs needs statuses and timestamps, not whole records."""
        names = [f for f in fields if f in runs.RECORD_FIELDS]
        if "id" not in names:
            names.insert(0, "id")
        pipe = self.redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hmget(keys.run(run_id), names)
        out: builtins.list[Run | None] = []
        for values in pipe.execute() if run_ids else []:
            raw = {n.encode(): v for n, v in zip(names, values, strict=True) if v is not None}
            out.append(runs.decode(raw) if b"id" in raw else None)
        return out

    def newest_ids(self, *, function: str | None = None, since: float | None = None,
                   until: float | None = None, offset: int = 0, limit: int = 50
                   ) -> builtins.list[str]:
        """Run ids from the index (of one function, or all), newest first."""
        index_backlog.catch_up(self.redis)
        index = keys.runs_of_function(function) if function else keys.RUN_INDEX
        low = "-inf" if since is None else since * 1000
        high = "+inf" if until is None else until * 1000
        return [raw.decode() for raw in
                self.redis.zrevrangebyscore(index, high, low, start=offset, num=limit)]

    def stored(self) -> int:
        index_backlog.catch_up(self.redis)
        return int(self.redis.zcard(keys.RUN_INDEX))

    def counts(self, limit: int = 1000) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.list(limit=limit):
            counts[run.status] = counts.get(run.status, 0) + 1
        return counts

    def forget_finished(self, run_ids: builtins.list[str]) -> int:
        """Delete the runs among `run_ids` that have ended (their events were capped away);
        live ones (queued, sleeping, waiting) stay whatever their event's fate. The caller
        applies the index backlog first (the sweeper's prune)."""
        if not run_ids:
            return 0
        pipe = self.redis.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hmget(keys.run(run_id), "status", "function")
        done = [(run_id, runs.decode_value("function", function))
                for run_id, (status, function) in zip(run_ids, pipe.execute(), strict=True)
                if status is not None and runs.decode_value("status", status) in TERMINAL]
        if done:
            pipe = self.redis.pipeline(transaction=False)
            for run_id, function in done:
                pipe.delete(keys.run(run_id))
                pipe.zrem(keys.runs_of_function(function), run_id)
            pipe.zrem(keys.RUN_INDEX, *(run_id for run_id, _ in done))
            pipe.execute()
        return len(done)

    def prune_index(self, batch: int = 1000) -> int:
        """Drop index entries whose run expired (retention); keep live long-sleeping runs.
        The caller applies the index backlog first (the sweeper's prune), as for
        `forget_finished`."""
        cutoff = (time.time() - self.retention) * 1000
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
            pipe.execute()
        return len(gone)


def trace_of(loaded: Loaded) -> dict[str, Any] | None:
    """A run's record and its steps in start order, as one JSON-ready dict."""
    run = loaded.run
    if run is None:
        return None
    return {**run.summary(), "event": run.event, "output": preview(run.output),
            "error": run.error, "parent": run.parent, "replay_of": run.replay_of,
            "rerun_from": run.rerun_from, "priority": run.priority,
            "held": run.held, "holds": run.holds, "executions": run.executions,
            "history": run.history, "steps": [s.fields() for s in _ordered(loaded.trace)]}


def _ordered(trace: dict[str, StepTrace]) -> builtins.list[StepTrace]:
    return sorted(trace.values(), key=lambda r: (r.started_at or 0, r.key))
