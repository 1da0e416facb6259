"""Forgetting in Redis: every key, whatever wrote it, by one SCAN.

The event log, run records (inputs, outputs, traces, memos), the cache's Redis tier, memory's
day lists, pending telemetry, the gateway's queue and the broker's own lists are all keys, so one
pass over every key finds them: a key whose *name* holds a needle goes whole (a search term of
the event index), a string or hash value is rewritten leaf by leaf (JSON stays JSON), and an
element of a list, set or sorted set is removed. The forgotten events themselves and the runs
they started stay as stubs: their data, outputs and step results blanked, the reason recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.events import index_backlog
from joelclaw.forget.model import Finding
from joelclaw.forget.needles import Target, blank, excerpt

if TYPE_CHECKING:
    import redis

OWN = (keys.FORGET_AUDIT,)
EVENT_PREFIX, RUN_PREFIX = keys.event(""), keys.run("")
TERM_PREFIX = keys.event_term("")
CASSETTE_PREFIX = keys.cassette("")
# Keys of a record derived from a forgotten event whose every string is blanked (a run's input
# and output, a step's input, output, error and memoized value).
DERIVED_KEYS = frozenset({"data", "output", "input", "error", "batch", "v", "e", "message",
                          "value", "result"})


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def blank_keys(value: Any, stub: str) -> Any:
    """Under the derived keys (at any depth), every string blanked."""
    if isinstance(value, dict):
        return {k: blank(v, stub) if k in DERIVED_KEYS else blank_keys(v, stub)
                for k, v in value.items()}
    if isinstance(value, list):
        return [blank_keys(v, stub) for v in value]
    return value


class RedisForget:
    """Finds (and, through each finding's action, removes) the target in one Redis."""

    def __init__(self, client: redis.Redis, target: Target, forgotten: dict[str, Any]) -> None:
        self.client, self.target, self.forgotten = client, target, forgotten

    def discover(self) -> None:
        """Widen the target with the events holding a needle and the runs they started."""
        for key in self.client.scan_iter(match=keys.event("*"), count=1000):
            name = _text(key)
            raw = self.client.hget(key, "record") if name.count(":") == 2 else None
            if raw is None:
                continue
            record = json.loads(raw)
            event_id = name[len(EVENT_PREFIX):]
            if event_id in self.target.events or self.target.holds(_text(raw)):
                self.target.events.add(event_id)
                self.target.runs.update(str(r) for r in record.get("runs") or [])

    def find(self, progress: Callable[[str], None]) -> list[Finding]:
        # Events still in the search backlog are indexed first: the sweeper would otherwise
        # make their term sets (named after the words) behind this scan
        index_backlog.catch_up(self.client)
        found: list[Finding] = []
        for count, key in enumerate(self.client.scan_iter(count=1000), 1):
            name = _text(key)
            if name in OWN:
                continue
            found += self._key(name)
            if count % 5000 == 0:
                progress(f"redis: {count} keys looked at")
        return found

    # -- one key -------------------------------------------------------------------------

    def _key(self, name: str) -> list[Finding]:
        if self.target.holds(name):
            return [Finding("redis", name, "key named after it: deleted", "",
                            lambda: self.client.delete(name))]
        kind = _text(self.client.type(name))
        if name.startswith(TERM_PREFIX) and kind == "zset":
            return self._term(name)
        if name.startswith(EVENT_PREFIX) and kind == "hash" and \
                name[len(EVENT_PREFIX):] in self.target.events:
            return [self._event(name)]
        if name.startswith(RUN_PREFIX) and kind == "hash" and \
                name[len(RUN_PREFIX):] in self.target.runs:
            return self._run(name)
        reader = {"string": self._string, "hash": self._hash, "list": self._members,
                  "set": self._members, "zset": self._members}.get(kind)
        return reader(name, kind) if reader else []

    def _term(self, name: str) -> list[Finding]:
        ids = [i for i in self.target.events if self.client.zscore(name, i) is not None]
        if not ids:
            return []
        return [Finding("redis", name, f"event search index: {len(ids)} id(s) removed", "",
                        lambda: self.client.zrem(name, *ids))]

    def _event(self, name: str) -> Finding:
        raw = self.client.hget(name, "record")
        record = json.loads(raw) if raw else {}
        stub = self.target.rewrite(blank_keys(record, self.target.stub))  # keys hold it too
        if isinstance(stub.get("event"), dict):
            stub["event"]["forgotten"] = True

        def act() -> None:
            pipe = self.client.pipeline(transaction=True)
            if raw:
                pipe.hset(name, "record", json.dumps(stub))
            pipe.hset(name, "forgotten", json.dumps(self.forgotten))
            pipe.execute()
        return Finding("events", name[len(EVENT_PREFIX):], "event: data replaced by a stub",
                       excerpt(_text(raw or b""), self.target), act)

    def _run(self, name: str) -> list[Finding]:
        """A run of a forgotten event: input, output, traces and memos blanked."""
        fields = self.client.hgetall(name)
        changed: dict[str, str] = {}
        for field, raw in fields.items():
            text = _text(raw)
            if text[:1] not in "{[":
                if self.target.holds(text):
                    changed[_text(field)] = self.target.stub
                continue
            try:
                value = json.loads(text)
            except ValueError:
                continue
            new = json.dumps(self.target.rewrite(blank_keys(value, self.target.stub)))
            if new != text:
                changed[_text(field)] = new
        changed["forgotten"] = json.dumps(self.forgotten)
        run_id = name[len(RUN_PREFIX):]
        return [Finding("runs", run_id, f"run: {len(changed) - 1} field(s) blanked "
                        "(input, output, trace, memo)", "",
                        lambda: self.client.hset(name, mapping=changed))]

    def _string(self, name: str, _kind: str) -> list[Finding]:
        raw = self.client.get(name)
        if raw is None or not self.target.touches(text := _text(raw)):
            return []
        # A cache entry or a recorded answer (a cassette) is a copy: it goes whole, so a part of
        # the text that no needle matches (a search hit's highlighted snippet) goes with it.
        store = "cache" if name.startswith(keys.CACHE) else \
            "cassettes" if name.startswith(CASSETTE_PREFIX) else "redis"
        new = None if store != "redis" else self.target.rewrite_text(text)
        if new is None or not self.target.holds(text):  # derived, or not JSON: goes whole
            return [Finding(store, name, "value deleted", excerpt(text, self.target),
                            lambda: self.client.delete(name))]
        return [Finding("redis", name, "value rewritten", excerpt(text, self.target),
                        lambda: self.client.set(name, new, keepttl=True))]

    def _hash(self, name: str, _kind: str) -> list[Finding]:
        found: list[Finding] = []
        for field, raw in self.client.hgetall(name).items():
            key, text = _text(field), _text(raw)
            if not self.target.holds(key) and not self.target.touches(text):
                continue
            where, seen = f"{name} [{key}]", excerpt(text, self.target)
            new = self.target.rewrite_text(text) if self.target.holds(text) else None
            if new is None or self.target.holds(key):  # derived, or not JSON: goes whole
                found.append(Finding("redis", where, "field deleted", seen,
                                     partial(self.client.hdel, name, field)))
            else:
                found.append(Finding("redis", where, "field rewritten", seen,
                                     partial(self.client.hset, name, field, new)))
        return found

    def _members(self, name: str, kind: str) -> list[Finding]:
        remove: Callable[..., Any]
        if kind == "list":
            members = self.client.lrange(name, 0, -1)
            remove = partial(self.client.lrem, name, 0)
        elif kind == "set":
            members, remove = list(self.client.smembers(name)), partial(self.client.srem, name)
        else:
            members, remove = self.client.zrange(name, 0, -1), partial(self.client.zrem, name)
        return [Finding("redis", f"{name} ({kind})", "element removed",
                        excerpt(_text(m), self.target), partial(remove, m))
                for m in members if self.target.touches(_text(m))]
