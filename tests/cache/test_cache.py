"""The tiered cache against a real Redis and a real directory: chains, back-fill, TTLs, atomic
files, invalidation, stampede protection in one process and across processes, degradation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from joelclaw import keys
from joelclaw.cache import Cache, cached, read_stats
from joelclaw.embedded import free_port
from tests.support import REPO, wait_for


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@pytest.fixture
def cache(client: redis.Redis, tmp_path: Path) -> Cache:
    return Cache(client, tmp_path / "cache", default_ttl=60, warm_ttl=600)


def test_each_chain_writes_its_tiers_and_reads_back_fill_upper_ones(
    cache: Cache, client: redis.Redis, tmp_path: Path,
) -> None:
    cache.set("ns", "hot-only", {"a": 1}, tier="hot")
    assert client.get(keys.cache_entry("ns", "hot-only")) is None
    cache.set("ns", "k", {"a": [1, 2]}, tier="warm")
    raw = json.loads(client.get(keys.cache_entry("ns", "k")))  # type: ignore[arg-type]
    assert raw["value"] == {"a": [1, 2]} and raw["cached_at_ms"] > 0
    assert (tmp_path / "cache" / "ns" / "k.json").exists()

    # A fresh process (empty hot tier) with Redis emptied: the file tier answers and back-fills
    other = Cache(client, tmp_path / "cache", default_ttl=60)
    client.delete(keys.cache_entry("ns", "k"))
    assert other.get("ns", "k", tier="warm") == {"a": [1, 2]}
    assert client.get(keys.cache_entry("ns", "k")) is not None, "back-filled into Redis"
    ttl = client.pttl(keys.cache_entry("ns", "k"))
    assert 0 < ttl <= 600_000
    (tmp_path / "cache" / "ns" / "k.json").unlink()
    client.delete(keys.cache_entry("ns", "k"))
    assert other.get("ns", "k", tier="warm") == {"a": [1, 2]}, "and into its hot tier"
    other.stats.flush()
    stats = read_stats(client)
    assert stats["file"]["hit"] == 1 and stats["hot"]["hit"] == 1


def test_the_file_tier_checks_the_ttl_on_read_and_deletes_expired_files(
    client: redis.Redis, tmp_path: Path,
) -> None:
    cache = Cache(None, tmp_path / "cache")
    cache.set("ns", "short", "v", ttl=0.2, warm_ttl=0.2, tier="warm")
    path = tmp_path / "cache" / "ns" / "short.json"
    assert path.exists()
    stored = json.loads(path.read_text())
    # Each read from a new process's view: the file answers until its TTL is over, then not
    wait_for(lambda: Cache(None, tmp_path / "cache").get("ns", "short", "gone", tier="warm")
             == "gone", timeout=10, message="the file's TTL over")
    assert time.time() >= stored["expires_at"], "not dropped before its TTL"
    assert not path.exists()


def test_file_writes_are_atomic_under_concurrent_readers(tmp_path: Path) -> None:
    writer, reader = Cache(None, tmp_path / "c"), Cache(None, tmp_path / "c")
    big = {"text": "x" * 200_000}
    stop = threading.Event()
    seen: list[object] = []

    def read() -> None:
        while not stop.is_set():
            reader.tiers["hot"] = type(reader.tiers["hot"])()  # always read the file
            seen.append(reader.get("ns", "big", None, tier="warm"))

    threads = [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(30):
        writer.set("ns", "big", {**big, "i": i}, tier="warm")
    stop.set()
    for t in threads:
        t.join()
    assert reader.stats.local().get("file|error", 0) == 0, "a reader saw a half-written file"
    assert any(v is not None for v in seen)
    assert not list((tmp_path / "c" / "ns").glob("*.tmp"))


def test_invalidate_by_key_and_by_pattern_reaches_every_tier(
    cache: Cache, client: redis.Redis, tmp_path: Path,
) -> None:
    for key in ("a:1", "a:2", "b:1"):
        cache.set("recall", key, key, tier="warm")
    cache.set("other", "x", 1, tier="warm")
    cache.invalidate("recall", "b:1")
    assert cache.get("recall", "b:1", tier="warm") is None
    assert cache.invalidate_pattern("recall:a:*") == 6  # 2 keys x (hot, redis, file)
    assert cache.get("recall", "a:1", tier="warm") is None
    assert cache.get("other", "x", tier="warm") == 1
    assert client.get(keys.cache_entry("other", "x")) is not None


def test_fifty_concurrent_misses_in_one_process_fetch_once(cache: Cache) -> None:
    calls: list[int] = []
    started = threading.Event()  # every thread started: the one fetch may end

    def slow() -> dict[str, int]:
        calls.append(1)
        assert started.wait(30)
        return {"n": 42}

    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(
        cache.fetch("ns", "hot-key", slow, tier="shared"))) for _ in range(50)]
    for t in threads:
        t.start()
    started.set()
    for t in threads:
        t.join(10)
    assert results == [{"n": 42}] * 50 and len(calls) == 1


STAMPEDE = """
import sys, threading, time, redis
from pathlib import Path
from joelclaw.cache import Cache
url, directory = sys.argv[1], sys.argv[2]
client = redis.Redis.from_url(url)
cache = Cache(client, Path(directory))
def fetch():
    client.incr("test:fetches")
    time.sleep(0.5)
    return {"value": 7}
client.incr("test:ready")
while not client.exists("test:go"):
    time.sleep(0.005)
out = []
threads = [threading.Thread(target=lambda: out.append(cache.fetch("ns", "shared-key", fetch)))
           for _ in range(10)]
[t.start() for t in threads]
[t.join() for t in threads]
print(len([o for o in out if o == {"value": 7}]))
"""


@pytest.mark.timeout(60)
def test_fifty_concurrent_misses_across_five_processes_fetch_once(
    redis_url: str, client: redis.Redis, tmp_path: Path,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", STAMPEDE, redis_url, str(tmp_path / "c")],
                              env=env, stdout=subprocess.PIPE, text=True) for _ in range(5)]
    wait_for(lambda: int(client.get("test:ready") or 0) == 5, timeout=45,
             message="every process imported and waiting")
    client.set("test:go", 1)
    outputs = [p.communicate(timeout=30)[0].strip() for p in procs]
    assert outputs == ["10"] * 5
    assert int(client.get("test:fetches") or 0) == 1


def test_a_broken_redis_degrades_to_the_other_tiers_and_never_fails_the_caller(
    tmp_path: Path,
) -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))
    cache = Cache(dead, tmp_path / "c")
    calls: list[int] = []
    value = cache.fetch("ns", "k", lambda: calls.append(1) or {"ok": True}, tier="warm")
    assert value == {"ok": True}
    assert cache.fetch("ns", "k", lambda: calls.append(1) or {"ok": False},
                       tier="warm") == {"ok": True}
    assert len(calls) == 1
    # the miss's read failed on the dead tier; its write back was skipped, not tried again
    assert cache.stats.local()["redis|error"] == 1, "a dead tier is skipped after a failure"
    assert Cache(dead, tmp_path / "c").get("ns", "k", tier="warm") == {"ok": True}, \
        "the file tier still serves another process"
    cache.invalidate_pattern("*")  # no exception either


def test_a_broken_file_tier_degrades_too(client: redis.Redis, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    cache = Cache(client, blocker)
    assert cache.fetch("ns", "k", lambda: [1, 2], tier="warm") == [1, 2]
    assert cache.stats.local()["file|error"] >= 1
    assert Cache(client, blocker).get("ns", "k", tier="warm") == [1, 2]  # from Redis


def test_the_fetchers_own_error_reaches_the_caller_and_is_not_cached(cache: Cache) -> None:
    def boom() -> None:
        raise KeyError("upstream said no")

    with pytest.raises(KeyError):
        cache.fetch("ns", "err", boom)
    assert cache.fetch("ns", "err", lambda: "recovered") == "recovered"


def test_values_that_are_not_json_are_returned_but_not_stored(cache: Cache) -> None:
    marker = object()
    assert cache.fetch("ns", "obj", lambda: marker) is marker
    assert cache.get("ns", "obj") is None


def test_the_decorator_caches_per_arguments_and_can_invalidate_one_call(cache: Cache) -> None:
    calls: list[str] = []

    @cached("people", ttl=30, cache=cache)
    def person(name: str, *, loud: bool = False) -> dict[str, str]:
        calls.append(name)
        return {"name": name.upper() if loud else name}

    assert person("joel") == {"name": "joel"}
    assert person("joel") == {"name": "joel"}
    assert person("joel", loud=True) == {"name": "JOEL"}
    assert calls == ["joel", "joel"]
    person.invalidate("joel")  # type: ignore[attr-defined]
    person("joel")
    assert calls == ["joel", "joel", "joel"]
    with pytest.raises(ValueError, match="unknown cache tier"):
        cached("x", tier="cold")  # type: ignore[arg-type]


def test_counts_from_every_process_add_up_in_redis(cache: Cache, client: redis.Redis,
                                                    tmp_path: Path) -> None:
    other = Cache(client, tmp_path / "cache")
    cache.set("ns", "k", 1)
    for c in (cache, other):
        c.get("ns", "k")
        c.get("ns", "missing")
        c.stats.flush()
    stats = read_stats(client)
    assert stats["hot"]["hit"] == 1  # only the writer had it in-process
    assert stats["redis"]["hit"] == 1  # the other process found it in Redis
    assert stats["hot"]["miss"] == 3 and stats["redis"]["miss"] == 2
