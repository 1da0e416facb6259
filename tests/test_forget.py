"""Provenance and forgetting: what a step writes carries the event, run and step it came from,
and `joelclaw forget` removes an event's text from every store (Redis keys and values, the
Typesense collections, the cache's files, the daily logs, MEMORY.md and the append-only file
after its rewrite), leaving stubs with the reason and an audit record; real Redis, Typesense and
workers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from click.testing import CliRunner

from joelclaw.cli import cli
from joelclaw.embedded import RedisServer, TypesenseServer
from joelclaw.events.model import Event
from joelclaw.events.store import get_event
from joelclaw.integrations.typesense import SearchClient
from joelclaw.runtime import Runtime
from joelclaw.telemetry import query
from tests import support
from tests.conftest import make_settings
from tests.flow_helpers import finished
from tests.support import wait_for

pytestmark = pytest.mark.timeout(180)
MARKER = "Zqx7731 Okafor"  # a person's name, as personal as data gets
TEXT = f"call Dr {MARKER} about the results tomorrow"
KEEP = "water the plants on sunday morning"
MODULES = ["tests.forget_functions"]


@pytest.fixture
def rt(tmp_path: Path, redis_url: str, typesense: TypesenseServer) -> Runtime:
    return Runtime(make_settings(tmp_path / "home", redis_url, function_modules=MODULES,
                                 typesense_url=typesense.url,
                                 typesense_api_key=typesense.api_key))


def _cli(rt: Runtime, *args: str) -> tuple[int, dict[str, Any]]:
    s = rt.settings
    env = {"JOELCLAW_REDIS_URL": s.redis.url, "JOELCLAW_HOME": str(s.home),
           "JOELCLAW_FUNCTION_MODULES": ",".join(MODULES),
           "JOELCLAW_TYPESENSE_URL": s.typesense.url or "",
           "JOELCLAW_TYPESENSE_API_KEY": s.typesense.api_key or ""}
    done = CliRunner().invoke(cli, ["--json", *args], env=env)
    return done.exit_code, json.loads(done.stdout)


def _note(rt: Runtime, event_id: str, text: str) -> str:
    [sent] = rt.send(Event(id=event_id, name="test/note.saved", data={"text": text}))
    run = finished(rt, sent.runs[0], timeout=60)
    assert run.status == "completed", run.error
    return run.id


# ---- where the marker could be --------------------------------------------------------------

def _values(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "hash":
        return [b for pair in client.hgetall(key).items() for b in pair]
    if kind == "list":
        return client.lrange(key, 0, -1)
    if kind == "set":
        return list(client.smembers(key))
    if kind == "zset":
        return client.zrange(key, 0, -1)
    if kind == "none":  # gone since the scan named it (the search backlog, indexed meanwhile)
        return []
    raise AssertionError(f"{key!r}: a {kind} the search does not read")


def redis_hits(client: redis.Redis, needle: str) -> list[str]:
    """Every key whose name or any value holds the needle (case-insensitive)."""
    hits = []
    low = needle.lower().encode()
    for key in client.scan_iter(count=1000):
        if low in key.lower() or any(low in v.lower() for v in _values(client, key)):
            hits.append(key.decode())
    return hits


def typesense_hits(ts: TypesenseServer, needle: str) -> list[str]:
    headers = {"X-TYPESENSE-API-KEY": ts.api_key or ""}
    hits = []
    with httpx.Client(base_url=ts.url, headers=headers, timeout=10) as client:
        for coll in client.get("/collections").json():
            text = client.get(f"/collections/{coll['name']}/documents/export").text
            hits += [f"{coll['name']}: {line[:80]}" for line in text.splitlines()
                     if needle.lower() in line.lower()]
    return hits


def file_hits(root: Path, needle: str) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file()
            and needle.lower().encode() in p.read_bytes().lower()]


def aof_dir(client: redis.Redis) -> Path:
    return Path(client.config_get("dir")["dir"])


def aof_files(client: redis.Redis) -> list[Path]:
    """The append-only file(s): Redis 7's directory of parts, or 6.2's one file."""
    root = aof_dir(client)
    return [p for p in root.rglob("*") if p.is_file() and "appendonly" in str(p)]


def aof_hits(client: redis.Redis, needle: str) -> list[str]:
    """Raw bytes: the incremental part holds commands as sent (its RDB part may compress)."""
    return [str(p) for p in aof_files(client) if needle.lower().encode() in
            p.read_bytes().lower()]


def reloaded_hits(client: redis.Redis, where: Path, needle: str) -> list[str]:
    """What a Redis started from a copy of the append-only file(s) holds: compressed or not,
    the data the AOF would bring back after a restart."""
    root = aof_dir(client)
    where.mkdir()
    for path in aof_files(client):
        target = where / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    server = RedisServer(where, binary=support.REDIS_SERVER)
    server.start()
    try:
        copy = redis.Redis.from_url(server.url)
        assert copy.dbsize() > 0  # it loaded the file
        return redis_hits(copy, needle)
    finally:
        server.stop()


# ---- the tests ----------------------------------------------------------------------------

def test_what_a_step_writes_carries_its_event_run_and_step(rt: Runtime, worker_factory,
                                                           typesense) -> None:
    worker_factory(settings_override=rt.settings)
    run_id = _note(rt, "note-prov", TEXT)
    prov = {"event": "note-prov", "run": run_id}

    search = SearchClient.from_settings(rt.settings)
    [doc] = search.export("memory_observations")
    assert (doc["event_id"], doc["run_id"], doc["step"]) == ("note-prov", run_id, "observe")
    home = rt.settings.memory_home
    line = next(x for x in rt.settings.memory_file.read_text().splitlines() if MARKER in x)
    assert f"event=note-prov run={run_id} step=promote" in line
    assert f"event=note-prov run={run_id} step=daily-log" in \
        (home / "memory" / "2026-12-06.md").read_text()
    [cached] = list(rt.settings.cache_home.rglob("*.json"))
    assert json.loads(cached.read_text())["prov"] == {**prov, "step": "cache"}
    query.flushed(rt, search)  # after a worker's flusher, if one is importing
    [otel] = [d for d in search.export("otel_events") if d.get("component") == "test-notes"]
    assert (otel["event_id"], otel["run_id"], otel["step"]) == ("note-prov", run_id,
                                                                "telemetry")
    # MEMORY.md's bullets read the same as before: the comment is not part of the text
    from joelclaw.memory.memoryfile import MemoryFile

    assert f"Remember: {TEXT}" in MemoryFile(rt.settings.memory_file).bullets()


def test_a_forgotten_event_leaves_no_trace_of_its_text_in_any_store(
        rt: Runtime, worker_factory, typesense, tmp_path: Path) -> None:
    worker_factory(settings_override=rt.settings)
    # Given an event whose text spread everywhere, and one that must stay
    forgotten_run = _note(rt, "note-1", TEXT)
    kept_run = _note(rt, "note-2", KEEP)
    query.flushed(rt, SearchClient.from_settings(rt.settings))  # every event stored
    home = rt.settings.home
    stores = {"redis": redis_hits(rt.redis, MARKER), "typesense": typesense_hits(typesense, MARKER),
              "files": file_hits(home, MARKER)}
    assert all(stores.values()), stores  # the search finds it before
    wait_for(lambda: aof_hits(rt.redis, MARKER), 30, message="the AOF to hold it")
    assert reloaded_hits(rt.redis, tmp_path / "before", MARKER)

    # When the owner looks first, then forgets without confirming, then confirms
    code, dry = _cli(rt, "forget", "--event", "note-1", "--dry-run")
    assert code == 0 and dry["result"]["dry_run"]
    found = {f["store"] for f in dry["result"]["found"]}
    assert {"events", "runs", "typesense:memory_observations", "typesense:otel_events",
            "cache", "daily-log", "memory-file"} <= found, found
    assert redis_hits(rt.redis, MARKER)  # a dry run changes nothing
    code, refused = _cli(rt, "forget", "--event", "note-1")
    assert code == 2 and refused["error"]["code"] == "CONFIRMATION_REQUIRED"
    code, done = _cli(rt, "forget", "--event", "note-1", "--reason", "asked by the owner",
                      "--yes")
    assert code == 0, done
    assert done["result"]["aof"]["rewritten"] is True

    # Then no store holds the text: Redis, Typesense, every file under the home, the AOF
    assert redis_hits(rt.redis, MARKER) == []
    assert typesense_hits(typesense, MARKER) == []
    assert file_hits(home, MARKER) == []
    wait_for(lambda: not aof_hits(rt.redis, MARKER), 30,
             message="the rewritten AOF without the text (old parts deleted)")
    assert reloaded_hits(rt.redis, tmp_path / "after", MARKER) == []
    # ... a stub with the reason stays for the event and its run
    event = get_event(rt.redis, "note-1")
    assert event["forgotten"]["reason"] == "asked by the owner"
    assert event["event"]["data"]["text"].startswith("[forgotten ")
    trace = rt.runs.trace(forgotten_run)
    summary = json.dumps([s for s in trace["steps"] if s["key"] == "summary"])
    assert "appointment" not in summary  # derived output, though it never quoted the text
    # ... and the other event is untouched
    assert get_event(rt.redis, "note-2")["event"]["data"]["text"] == KEEP
    assert KEEP in rt.settings.memory_file.read_text()
    assert KEEP in json.dumps(rt.runs.trace(kept_run))
    # ... and the audit says what, when and why, without the text
    code, audit = _cli(rt, "forgotten")
    [record] = audit["result"]
    assert record["selector"] == {"kind": "event", "event": "note-1"}
    assert record["reason"] == "asked by the owner" and record["counts"]["runs"] == 1
    assert MARKER.lower() not in json.dumps(record).lower()
    # ... nor one word of it, anywhere (a search term's key is named after a word)
    for word in MARKER.split():
        assert redis_hits(rt.redis, word) == [] and typesense_hits(typesense, word) == []
        assert word.lower() not in json.dumps(record).lower()


def test_forget_by_person_matches_the_whole_name_only(rt: Runtime, worker_factory,
                                                      typesense) -> None:
    worker_factory(settings_override=rt.settings)
    _note(rt, "note-a", TEXT)
    _note(rt, "note-b", "Okafors garden party")  # not the name as a word
    code, done = _cli(rt, "forget", "--person", "okafor", "--yes")
    assert code == 0, done
    assert "note-a" in done["result"]["events"] and "note-b" not in done["result"]["events"]
    assert redis_hits(rt.redis, "Okafor ") == [] and typesense_hits(typesense, "Okafor ") == []
    assert get_event(rt.redis, "note-b")["event"]["data"]["text"] == "Okafors garden party"
    assert done["result"]["selector"]["kind"] == "person"
    assert "okafor" not in json.dumps(done["result"]["selector"]).lower()


def test_queued_telemetry_is_stored_before_the_stores_are_searched(rt: Runtime) -> None:
    """A telemetry event still queued in Redis is stored in Typesense before the search, so
    the preview and its confirmation find it in one place (a worker's flusher moving it
    mid-search had it counted twice, or not at all, and the confirmation refused)."""
    from joelclaw.forget import plan
    from joelclaw.telemetry.events import TelemetryEvent, emit, pending

    emit(rt.redis, TelemetryEvent(component="svc", action="note", error=f"about {MARKER}"),
         rt.settings)
    assert pending(rt.redis) == 1
    found = plan(rt, kind="match", value=MARKER, reason="asked")
    assert pending(rt.redis) == 0
    assert [f.store for f in found.findings] == ["typesense:otel_events"]
    again = plan(rt, kind="match", value=MARKER, reason="asked")
    assert [f.as_dict() for f in again.findings] == [f.as_dict() for f in found.findings]
