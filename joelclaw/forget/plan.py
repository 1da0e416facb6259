"""`joelclaw forget`: find everything derived from an event, a text or a person, then remove it.

`plan(...)` looks everywhere and changes nothing (the dry run, and what the owner confirms);
`execute(...)` applies the plan's findings, leaves stubs with the reason where records must stay
(the event, its runs), asks Redis to rewrite its append-only file so the old text leaves the
disk too, and writes the audit record. The selector is stored in the audit without its text.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from joelclaw import keys
from joelclaw.errors import JoelclawError, NotFound
from joelclaw.events.store import get_event
from joelclaw.forget import files
from joelclaw.forget.model import Finding
from joelclaw.forget.needles import MIN_TEXT, Target, string_leaves
from joelclaw.forget.redis_store import TERM_PREFIX, RedisForget

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.integrations.typesense import SearchClient

Kind = Literal["event", "match", "person"]
Progress = Callable[[str], None]
AOF_WAIT_SECONDS = 120.0


class ForgetError(JoelclawError):
    code = "FORGET_REFUSED"


@dataclass
class Plan:
    id: str
    kind: Kind
    value: str
    reason: str
    target: Target
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.store] = out.get(f.store, 0) + 1
        return out

    def selector(self) -> dict[str, Any]:
        """What was asked, without the text itself (the audit must not keep it)."""
        if self.kind == "event":
            return {"kind": "event", "event": self.value}
        return {"kind": self.kind, "length": len(self.value),
                "sha256": hashlib.sha256(self.value.casefold().encode()).hexdigest()}

    def safe(self, text: str) -> str:
        """Where a finding is, without the text: needles masked, and a search term's key
        (named after one word of it, which no needle matches alone) without its word."""
        if text.startswith(TERM_PREFIX):
            kind, _, _word = text[len(TERM_PREFIX):].partition(":")
            return f"{TERM_PREFIX}{kind}:…"
        for pattern in self.target.patterns:
            text = pattern.sub("…", text)
        return text

    def as_dict(self, *, dry_run: bool) -> dict[str, Any]:
        return {"id": self.id, "dry_run": dry_run, "selector": self.selector(),
                "reason": self.reason, "events": sorted(self.target.events),
                "runs": sorted(self.target.runs), "counts": self.counts(),
                "found": [f.as_dict(with_excerpt=dry_run) for f in self.findings],
                "notes": self.notes}


def plan(rt: Bus, *, kind: Kind, value: str, reason: str,
         progress: Progress = lambda _m: None) -> Plan:
    """Everything the selector reaches, in every store; nothing is changed."""
    value = value.strip()
    if not value:
        raise ForgetError("give an event id, a text or a name to forget")
    if kind != "event" and len(value) < MIN_TEXT:
        raise ForgetError(f"a text or name to forget needs at least {MIN_TEXT} characters "
                          "(a shorter one would match far too much)")
    target = _target(rt, kind, value)
    if target.holds(reason):
        raise ForgetError("the reason must not contain the text to forget (it is kept)")
    forget_id = f"fg-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    target.stub = f"[forgotten {forget_id}: {reason}]"
    result = Plan(forget_id, kind, value, reason, target)
    stamp = {"id": forget_id, "at": time.time(), "reason": reason}
    store = RedisForget(rt.redis, target, stamp)
    search = _search_client(rt)
    if search is None:
        result.notes.append("no Typesense configured: no collection to look in")
    else:
        _store_telemetry(rt, search, progress)
    progress("redis: finding the events and runs it came from")
    store.discover()
    progress(f"redis: {len(target.events)} event(s), {len(target.runs)} run(s); "
             "looking at every key")
    result.findings += store.find(progress)
    if search is not None:
        progress("typesense: looking in every collection")
        result.findings += files.search_documents(search, target)
    progress("files: cache, daily logs, MEMORY.md")
    from joelclaw.memory.dailylog import DailyLog
    from joelclaw.memory.memoryfile import MemoryFile

    result.findings += files.cache_files(rt.settings.cache_home, target)
    result.findings += files.daily_logs(DailyLog(rt.settings.memory_home / "memory"), target)
    result.findings += files.memory_file(MemoryFile(rt.settings.memory_file), target)
    for finding in result.findings:
        finding.where = result.safe(finding.where)
    _backups_note(rt, result)
    return result


def _backups_note(rt: Bus, result: Plan) -> None:
    """Backups are copies taken on purpose: say they exist, never rewrite them silently."""
    folder = rt.settings.backups.dir
    if folder is None or not folder.expanduser().exists():
        return
    count = sum(1 for p in folder.expanduser().rglob("*") if p.is_file())
    if count:
        result.notes.append(f"{count} backup file(s) under {folder} were taken before and may "
                            "still hold it: delete the ones you do not need")


def execute(rt: Bus, done: Plan, *, by: str = "cli", progress: Progress = lambda _m: None
            ) -> dict[str, Any]:
    """Apply every finding, rewrite the AOF, write the audit record; returns the audit."""
    total = len(done.findings)
    every = max(1, total // 10)
    for index, finding in enumerate(done.findings, 1):
        if finding.apply is not None:
            finding.apply()
        if index % every == 0 or index == total:
            progress(f"forgetting: {index}/{total}")
    _forget_hot_cache(rt)
    aof = rewrite_aof(rt, progress)
    record = {**done.as_dict(dry_run=False), "at": time.time(), "by": by, "aof": aof}
    pipe = rt.redis.pipeline(transaction=True)
    pipe.lpush(keys.FORGET_AUDIT, json.dumps(record))
    pipe.ltrim(keys.FORGET_AUDIT, 0, keys.FORGET_AUDIT_KEEP - 1)
    pipe.execute()
    return record


def audit(rt: Bus, limit: int = 50) -> list[dict[str, Any]]:
    """The latest forgettings, newest first."""
    return [json.loads(raw) for raw in rt.redis.lrange(keys.FORGET_AUDIT, 0, limit - 1)]


def record(rt: Bus, forget_id: str) -> dict[str, Any] | None:
    """One audit record by its id (the audit keeps the latest FORGET_AUDIT_KEEP)."""
    for raw in rt.redis.lrange(keys.FORGET_AUDIT, 0, -1):
        found: dict[str, Any] = json.loads(raw)
        if found.get("id") == forget_id:
            return found
    return None


def rewrite_aof(rt: Bus, progress: Progress) -> dict[str, Any]:
    """BGREWRITEAOF, waited for: the old text stays on disk until the file is rewritten."""
    client = rt.redis
    if str(client.config_get("appendonly").get("appendonly")) != "yes":
        return {"rewritten": False, "note": "append-only file is off"}
    started, before = time.time(), client.info("persistence").get("aof_rewrites")
    try:
        client.bgrewriteaof()
    except Exception as exc:  # one already running: ours is scheduled after it
        if "in progress" not in str(exc) and "scheduled" not in str(exc):
            raise
    progress("redis: rewriting the append-only file")
    while time.time() - started < AOF_WAIT_SECONDS:
        info = client.info("persistence")
        idle = not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled")
        # Redis 7 counts rewrites; 6.2 forks at once, so idle after the call means done
        if idle and (before is None or int(info.get("aof_rewrites", 0)) > int(before)):
            return {"rewritten": True, "status": info.get("aof_last_bgrewrite_status")}
        time.sleep(0.1)  # polling Redis's own progress, not timing our work
    return {"rewritten": False, "note": f"still rewriting after {AOF_WAIT_SECONDS:g}s; "
                                        "Redis finishes it on its own"}


def _target(rt: Bus, kind: Kind, value: str) -> Target:
    if kind == "event":
        record = get_event(rt.redis, value)
        if record is None:
            raise NotFound(f"no event with id {value!r} (events are kept 7 days)")
        target = Target([], {value}, {str(r) for r in record.get("runs") or []})
        for text in string_leaves(record["event"].get("data")):
            target.add_text(text)
        return target
    return Target.of_text(value, whole_word=kind == "person")


def _search_client(rt: Bus) -> SearchClient | None:
    from joelclaw.integrations.typesense import SearchClient, resolve_endpoint

    return None if resolve_endpoint(rt.settings) is None else SearchClient.from_settings(
        rt.settings)


def _store_telemetry(rt: Bus, search: SearchClient, progress: Progress) -> None:
    """Telemetry still queued goes to Typesense first (after a worker's flusher, if one is
    importing): an event a flusher moves from Redis to Typesense while the stores are searched
    could be found in neither or in both, and a preview and its confirmation would differ."""
    from joelclaw.integrations.errors import IntegrationError
    from joelclaw.telemetry.query import flushed

    progress("telemetry: storing what is queued")
    try:
        flushed(rt, search)
    except IntegrationError as exc:  # Typesense down: the queued ones are searched in Redis
        progress(f"telemetry: could not store what is queued ({exc}); searching it in Redis")


def _forget_hot_cache(rt: Bus) -> None:
    """This process's hot tier; other processes' hot entries expire with their short TTL."""
    from joelclaw.cache import cache_for

    hot = cache_for(rt).tiers.get("hot")
    if hot is not None:
        hot.delete_pattern("*")
