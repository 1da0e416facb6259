"""Memory benchmarks, each printed beside the raw backend in the same run:

1. recall p50/p99 over 10,000 observations (keyword-only and hybrid, uncached and cached)
   against the same searches sent straight to Typesense with plain httpx;
2. cache hit latency per tier (hot, Redis, file) against plain cachetools, a plain Redis GET
   and a plain file read + json.loads;
3. observe throughput: sessions/s through a real worker (fake instant LLM, embedded Typesense)
   against the same library calls made in-process.

    python bench/memory.py [--observations 10000] [--queries 300] [--sessions 60]

Starts its own Redis, Typesense and fake OpenAI-compatible server on loopback.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import pct  # noqa: E402
from joelclaw.config import Settings  # noqa: E402
from joelclaw.embedded import RedisServer, TypesenseServer  # noqa: E402
from joelclaw.memory import recall as recall_mod  # noqa: E402
from joelclaw.memory import schema  # noqa: E402
from joelclaw.memory.model import Fact  # noqa: E402
from joelclaw.memory.service import Memory  # noqa: E402
from joelclaw.memory.store import _document, doc_id  # noqa: E402
from joelclaw.runtime import Runtime  # noqa: E402
from tests.fakes.llm import FakeLLM, fake_embedding  # noqa: E402
from tests.memory.replies import MemoryLLM  # noqa: E402

_VOCABULARY = ("webhook redis celery worker gateway deploy espresso telegram todoist memory recall "
         "typesense signature verify staging cluster backup lease queue priority cron beat "
         "flower gunicorn docker vercel front email invoice review proposal section pattern "
         "rule convention project course launch release roadmap friend family morning tea "
         "coffee bread sourdough marathon dawn newsletter podcast video transcript meeting "
         "calendar timezone python typescript inngest durable step sleep wait event")
WORDS = _VOCABULARY.split()


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def row(label: str, samples: list[float]) -> str:
    return f"  {label:<52} p50 {pct(samples, 0.5):8.3f} ms   p99 {pct(samples, 0.99):8.3f} ms"


def sentence(rng: random.Random, n: int = 9) -> str:
    return "Joel " + " ".join(rng.choice(WORDS) for _ in range(n))


def seed(mem: Memory, count: int, rng: random.Random) -> None:
    mem.store.ensure(force=True)
    now = time.time()
    batch = []
    for i in range(count):
        text = f"{sentence(rng)} #{i}"
        vector = fake_embedding(text)
        batch.append(_document(doc_id(f"s{i % 500}", text), Fact(text=text), f"s{i % 500}",
                               "shutdown", None, int(now - rng.random() * 90 * 86400), vector))
        if len(batch) == 1000:
            mem.store.search.import_documents(schema.COLLECTION, batch)
            batch = []
    mem.store.search.import_documents(schema.COLLECTION, batch)


def bench_recall(args: argparse.Namespace, hybrid: Memory, keyword: Memory, ts: TypesenseServer,
                 rng: random.Random) -> None:
    queries = [" ".join(rng.choice(WORDS) for _ in range(3)) for _ in range(args.queries)]
    raw = httpx.Client(base_url=ts.url, headers={"X-TYPESENSE-API-KEY": ts.api_key or ""})
    cycle = iter(queries * 10)
    filter_by = "write_verdict:=[allow]"

    def raw_single() -> None:
        raw.get(f"/collections/{schema.COLLECTION}/documents/search", params={
            "q": next(cycle), "query_by": "observation", "filter_by": filter_by, "per_page": 30,
            "exclude_fields": "embedding"}).raise_for_status()

    def raw_same_as_recall(with_vector: bool) -> Callable[[], None]:
        def go() -> None:
            q = next(cycle)
            searches = [{"collection": schema.COLLECTION, "q": w, "query_by": "observation",
                         "filter_by": filter_by, "per_page": 30, "exclude_fields": "embedding"}
                        for w in recall_mod.content_words(q)]
            if with_vector:
                vector = fake_embedding(q)
                searches.append({"collection": schema.COLLECTION, "q": "*",
                                 "filter_by": filter_by, "per_page": 30,
                                 "exclude_fields": "embedding", "vector_query":
                                 f"embedding:([{','.join(f'{x:.6f}' for x in vector)}], k:30)"})
            raw.post("/multi_search", json={"searches": searches}).raise_for_status()
        return go

    n = len(queries)
    print(f"recall over {args.observations} observations, {n} queries of 3 words, "
          "limit 10 (uncached unless said):")
    print(row("Typesense directly: one keyword search", timed(raw_single, n)))
    print(row("Typesense directly: recall's keyword multi_search", timed(
        raw_same_as_recall(False), n)))
    print(row("joelclaw recall, keyword-only", timed(lambda: recall_mod.recall(
        keyword, next(cycle), use_cache=False), n)))
    print(row("Typesense directly: recall's hybrid multi_search", timed(
        raw_same_as_recall(True), n)))
    print(row("joelclaw recall, hybrid (embeds the query over HTTP)", timed(
        lambda: recall_mod.recall(hybrid, next(cycle), use_cache=False), n)))
    fixed = queries[0]
    recall_mod.recall(hybrid, fixed)
    print(row("joelclaw recall, cached (hot tier hit)", timed(
        lambda: recall_mod.recall(hybrid, fixed), n)))
    raw.close()


def bench_cache(rt: Runtime, tmp: Path) -> None:
    import cachetools

    from joelclaw.cache import Cache

    value = {"observation": "Joel wants webhooks verified byte-exact", "score": 0.93,
             "tags": ["a", "b", "c"]}
    n = 20000
    plain_hot: cachetools.TTLCache[str, Any] = cachetools.TTLCache(maxsize=10000, ttl=300)
    plain_hot["k"] = value
    cache = Cache(rt.redis, tmp / "cache", default_ttl=300)
    cache.set("bench", "k", value, tier="warm")
    redis_only = Cache(rt.redis, None)
    redis_only.tiers.pop("hot")
    file_only = Cache(None, tmp / "cache")
    file_only.tiers.pop("hot")
    rt.redis.set("plain:k", json.dumps(value))
    path = file_only.tiers["file"].path("bench", "k")
    print(f"cache hit latency, {n} gets of a small JSON value:")
    print(row("plain cachetools TTLCache[key]", timed(lambda: plain_hot["k"], n)))
    print(row("joelclaw cache, hot tier hit", timed(lambda: cache.get("bench", "k"), n)))
    print(row("plain Redis GET + json.loads", timed(
        lambda: json.loads(rt.redis.get("plain:k")), n // 4)))  # type: ignore[arg-type]
    print(row("joelclaw cache, Redis tier hit", timed(
        lambda: redis_only.get("bench", "k"), n // 4)))
    print(row("plain file read + json.loads", timed(
        lambda: json.loads(path.read_bytes()), n // 4)))
    print(row("joelclaw cache, file tier hit", timed(
        lambda: file_only.get("bench", "k", tier="warm"), n // 4)))


def bench_observe(args: argparse.Namespace, settings: Settings, tmp: Path) -> None:
    from joelclaw.events.model import Event
    from joelclaw.memory import observe
    from tests.support import WorkerProcess

    def transcript(i: int) -> str:
        rng = random.Random(i)
        return "\n".join(f"user: {sentence(rng)} {i}" for _ in range(4))

    mem = Memory(Runtime(settings))
    started = time.perf_counter()
    for i in range(args.sessions):
        facts = observe.call_observer(mem, transcript(10_000 + i), None, [])
        observe.store(mem, facts, session_id=f"direct-{i}", source="backfill",
                      dedupe_key=f"direct-{i}")
    direct = args.sessions / (time.perf_counter() - started)

    worker = WorkerProcess(settings, tmp / "worker.log", name="bench", queues="joelclaw",
                           concurrency=2).wait_ready()
    rt = Runtime(settings)
    try:
        started = time.perf_counter()
        for i in range(args.sessions):
            rt.send(Event(name="bench/session.ended", data={
                "sessionId": f"bench-{i}", "dedupeKey": f"bench-{i}", "trigger": "backfill",
                "messages": transcript(i), "messageCount": 4}))
        deadline = time.time() + 600
        while len(rt.runs.list(function="bench-memory-observe",
                               status=["completed", "failed"],
                               limit=args.sessions + 10)) < args.sessions:
            if time.time() > deadline:
                raise SystemExit("observe runs did not finish; see worker.log")
            time.sleep(0.05)
        through_bus = args.sessions / (time.perf_counter() - started)
        failed = len(rt.runs.list(function="bench-memory-observe", status=["failed"]))
    finally:
        worker.stop()
    print(f"observe throughput, {args.sessions} sessions of 4 lines (instant fake LLM, "
          "hybrid store):")
    print(f"  library calls in-process, one after another      {direct:8.1f} sessions/s")
    print(f"  the observe function's runs, 1 worker x 2 procs  {through_bus:8.1f} sessions/s"
          f"  ({failed} failed)")
    print("  (memory-observe itself declares throttle 4 runs / 60 s, as the old system did; "
          "the bench runs its handler unthrottled)")


def observer_reply(user: str) -> str:
    lines = [line.split(": ", 1)[1] for line in user.splitlines() if line.startswith("user: ")]
    facts = "\n".join(f"- 🟡 {text} [gate=allow confidence=0.8 reason=bench]" for text in lines)
    return f"<observations><segment><facts>\n{facts}\n</facts></segment></observations>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--observations", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=60)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="jc-bench-mem-"))
    redis_server, ts = RedisServer(tmp / "redis"), TypesenseServer(tmp / "typesense")
    redis_server.start()
    ts.start()
    llm = FakeLLM()
    llm.reply = MemoryLLM(observer=observer_reply)
    llm.start()
    try:
        base: dict[str, Any] = dict(
            home=tmp / "home", redis_url=redis_server.url, typesense_url=ts.url,
            typesense_api_key=ts.api_key, llm_api_url=llm.base_url, llm_api_key="sk-test",
            llm_model="instant", function_modules=["bench.memory_functions"])
        keyword_settings = Settings(_env_file=None, **base)  # type: ignore[call-arg]
        settings = Settings(_env_file=None, embeddings_api_url=llm.base_url,  # type: ignore[call-arg]
                            embeddings_api_key="sk-test", embeddings_model="fake", **base)
        rng = random.Random(7)
        hybrid = Memory(Runtime(settings))
        began = time.perf_counter()
        seed(hybrid, args.observations, rng)
        print(f"seeded {args.observations} observations with 64-d vectors in "
              f"{time.perf_counter() - began:.1f} s")
        bench_recall(args, hybrid, Memory(Runtime(keyword_settings)), ts, rng)
        bench_cache(Runtime(settings), tmp)
        hybrid.store.search.drop_collection(schema.COLLECTION)
        bench_observe(args, settings, tmp)
    finally:
        llm.stop()
        ts.stop()
        redis_server.stop()


if __name__ == "__main__":
    main()
