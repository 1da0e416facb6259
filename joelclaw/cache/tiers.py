"""The cache's three tiers, each storing the JSON text of a value with its expiry.

    hot     in this process: a cachetools TLRU cache (per-entry TTL), nanoseconds to microseconds
    redis   shared by every process: `jc:cache:<namespace>:<key>`, envelope JSON, EX ttl
    file    the warm tier: `<cache_dir>/<namespace>/<quoted key>.json`, written to a temporary
            file and renamed (a reader never sees half a file); the TTL is checked on read from
            the envelope (else the mtime) and an expired file is deleted

Tiers raise whatever their backend raises; the cache above them turns a failure into a miss.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import threading
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cachetools

from joelclaw import keys, provenance

if TYPE_CHECKING:
    import redis

Entry = tuple[str, float]  # (value as JSON text, expires at, epoch seconds)


def envelope(text: str, expires_at: float) -> str:
    """The stored form: the value, its times and (written in a step) its provenance."""
    now_ms = int(time.time() * 1000)
    data: dict[str, Any] = {"cached_at_ms": now_ms, "expires_at": expires_at,
                            "value": json.loads(text)}
    prov = provenance.current()
    if prov:
        data["prov"] = {k: prov[k] for k in provenance.FIELDS}
    return json.dumps(data, separators=(",", ":"))


def open_envelope(raw: str | bytes, fallback_cached_at: float | None = None,
                  ttl: float | None = None) -> Entry | None:
    data = json.loads(raw)
    expires = data.get("expires_at")
    if expires is None:  # an envelope without one (e.g. written by an older writer)
        cached = data.get("cached_at_ms", (fallback_cached_at or 0) * 1000) / 1000
        expires = cached + (ttl or 0)
    if float(expires) <= time.time():
        return None
    return json.dumps(data["value"], separators=(",", ":")), float(expires)


class HotTier:
    name = "hot"

    def __init__(self, maxsize: int = 10000) -> None:
        self._lock = threading.Lock()
        self._data: cachetools.TLRUCache[str, Entry] = cachetools.TLRUCache(
            maxsize=maxsize, ttu=lambda _k, value, _now: value[1], timer=time.time)

    def get(self, namespace: str, key: str) -> Entry | None:
        with self._lock:
            return self._data.get(f"{namespace}:{key}")

    def set(self, namespace: str, key: str, text: str, expires_at: float) -> None:
        if expires_at > time.time():
            with self._lock:
                self._data[f"{namespace}:{key}"] = (text, expires_at)

    def delete(self, namespace: str, key: str) -> None:
        with self._lock:
            self._data.pop(f"{namespace}:{key}", None)

    def delete_pattern(self, pattern: str) -> int:
        with self._lock:
            doomed = [k for k in list(self._data.keys()) if fnmatch.fnmatchcase(k, pattern)]
            for k in doomed:
                self._data.pop(k, None)
        return len(doomed)


class RedisTier:
    name = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def get(self, namespace: str, key: str) -> Entry | None:
        raw = self.client.get(keys.cache_entry(namespace, key))
        return open_envelope(raw) if raw is not None else None

    def set(self, namespace: str, key: str, text: str, expires_at: float) -> None:
        ttl_ms = int((expires_at - time.time()) * 1000)
        if ttl_ms > 0:
            self.client.set(keys.cache_entry(namespace, key), envelope(text, expires_at),
                            px=ttl_ms)

    def delete(self, namespace: str, key: str) -> None:
        self.client.delete(keys.cache_entry(namespace, key))

    def delete_pattern(self, pattern: str) -> int:
        removed = 0
        for name in self.client.scan_iter(match=keys.CACHE + pattern, count=100):
            removed += int(self.client.delete(name))
        return removed


class FileTier:
    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, namespace: str, key: str) -> Path:
        name = urllib.parse.quote(key, safe="")
        if len(name) > 200:
            name = "sha256-" + hashlib.sha256(key.encode()).hexdigest()
        return self.directory / urllib.parse.quote(namespace, safe="") / f"{name}.json"

    def get(self, namespace: str, key: str) -> Entry | None:
        path = self.path(namespace, key)
        try:
            raw = path.read_bytes()
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None
        entry = open_envelope(raw, fallback_cached_at=mtime)
        if entry is None:
            path.unlink(missing_ok=True)
        return entry

    def set(self, namespace: str, key: str, text: str, expires_at: float) -> None:
        path = self.path(namespace, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            temporary.write_text(envelope(text, expires_at))
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)

    def delete(self, namespace: str, key: str) -> None:
        self.path(namespace, key).unlink(missing_ok=True)

    def delete_pattern(self, pattern: str) -> int:
        removed = 0
        if not self.directory.exists():
            return 0
        for folder in self.directory.iterdir():
            if not folder.is_dir():
                continue
            namespace = urllib.parse.unquote(folder.name)
            for file in folder.glob("*.json"):
                key = urllib.parse.unquote(file.name[:-5])
                if fnmatch.fnmatchcase(f"{namespace}:{key}", pattern):
                    file.unlink(missing_ok=True)
                    removed += 1
        return removed
