"""Nothing leaves the machine in a shadow run, by any path: a calendar feed read without an API
client, a document fetched by URL, configured programs and the agent command (subprocesses),
and Typesense (its own package's HTTP) are recorded by a real worker, then a shadow replay on
changed code re-executes the steps that made them with 0 requests to the feed, 0 programs
started and not one change to the real collections; with no recording the calls are refused,
writes even when reads are let out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tests.shadow_outbound_functions as fns
from joelclaw.cassettes import CassetteStore
from joelclaw.embedded import TypesenseServer
from joelclaw.events.model import Event
from joelclaw.integrations.typesense import SearchClient
from joelclaw.runtime import Runtime
from joelclaw.shadow import Options, shadow_many, shadow_run
from tests.conftest import TEST_MODULES, make_settings
from tests.fakes.calendar import PRIVATE_PATH, FakeCalendar, counting_command, ics_for, starts
from tests.flow_helpers import finished
from tests.support import WorkerProcess

pytestmark = pytest.mark.timeout(180)
RUNS = 3
DAY = "20261206"


@pytest.fixture
def feed() -> Iterator[FakeCalendar]:
    fake = FakeCalendar(ics_for(DAY, "dentist", "call the bank")).start()
    yield fake
    fake.stop()


@pytest.fixture
def recorded(tmp_path: Path, redis_url: str, typesense: TypesenseServer, feed: FakeCalendar,
             worker_factory: Callable[..., WorkerProcess]
             ) -> Iterator[tuple[Runtime, list[str], Path, str]]:
    command, log = counting_command(tmp_path)
    settings = make_settings(
        tmp_path / "home", redis_url,
        function_modules=[*TEST_MODULES, "tests.shadow_outbound_functions"],
        typesense_url=typesense.url, typesense_api_key=typesense.api_key,
        calendar_ics_url=feed.url, agent_dispatch_command=f"{command} agent {{prompt}}",
        docs_fetch_hosts=[feed.url.split("/")[2]])
    worker_factory(settings_override=settings)
    rt = Runtime(settings)
    run_ids = []
    for i in range(RUNS):
        run_ids += rt.send(Event(name="shadow/outbound", data={
            "day": DAY, "command": command, "inbox": str(tmp_path / "inbox"),
            "doc": feed.public_url, "text": f"note {i}"}))[0].runs
    for run_id in run_ids:
        run = finished(rt, run_id, timeout=60)
        assert run.status == "completed", run.error
    yield rt, run_ids, log, command


def collection(rt: Runtime) -> list[dict[str, Any]]:
    return sorted(SearchClient.from_settings(rt.settings).export(fns.COLLECTION),
                  key=lambda d: str(d["id"]))


def world(rt: Runtime, feed: FakeCalendar, log: Path) -> dict[str, Any]:
    """Everything outside the recordings a run could have touched."""
    return {"feed": feed.count(), "programs": starts(log), "typesense": collection(rt)}


def test_a_shadow_replay_reaches_no_feed_program_or_collection(
    recorded: tuple[Runtime, list[str], Path, str], feed: FakeCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt, run_ids, log, _ = recorded
    before = world(rt, feed, log)
    # The recording runs really went out: two feed reads (the calendar and the document), two
    # programs and one document indexed each.
    assert (before["feed"], before["programs"], len(before["typesense"])) == (
        2 * RUNS, 2 * RUNS, RUNS)
    tape = CassetteStore(rt.redis).of_run(run_ids[0])
    kinds = {(c.service, c.method, c.effect) for c in tape.values()}
    assert {("calendar", "GET", "read"), ("docs-fetch", "GET", "read"),
            ("command", "EXEC", "read"),
            ("agent", "EXEC", "write"), ("typesense", "POST", "write"),
            ("typesense", "GET", "read")} <= kinds, kinds
    # The private feed's URL is its secret: never in a recording.
    assert PRIVATE_PATH not in json.dumps([c.model_dump() for c in tape.values()])

    monkeypatch.setattr(fns, "SUFFIX", " (v2)")  # the code changed
    report = shadow_many(rt, run_ids=run_ids, options=Options())

    assert world(rt, feed, log) == before  # 0 requests, 0 programs, the same documents
    assert report.totals()["provider_calls"] == 0 and report.totals()["errors"] == 0
    first = report.runs[0]
    steps = {s.key: (s.mode, s.same) for s in first.steps}
    assert steps == {"calendar": ("re-executed", False), "document": ("re-executed", False),
                     "command": ("re-executed", False),
                     "index": ("re-executed", True), "agent": ("re-executed", False)}
    assert "+  \"dentist (v2)\"" in (next(s for s in first.steps
                                           if s.key == "calendar").diff or "")
    replayed = {h.what.split(" ")[0] + " " + h.what.split(" ")[1]
                for h in first.held if h.outcome == "replayed"}
    assert replayed == {"agent EXEC", "typesense POST"}
    assert any("index: a write call (typesense POST" in u for u in first.undeclared)
    assert any("agent: a write call (agent EXEC" in u for u in first.undeclared)


def test_with_no_recording_a_shadow_run_refuses_and_never_writes(
    recorded: tuple[Runtime, list[str], Path, str], feed: FakeCalendar,
) -> None:
    rt, run_ids, log, _ = recorded
    rt.redis.delete(f"jc:cassettes:run:{run_ids[1]}")
    before = world(rt, feed, log)
    report = shadow_run(rt, run_ids[1])
    assert world(rt, feed, log) == before
    assert report.status == "error" and "calendar: GET ***: no recording" in (report.error or "")

    # Reads let out reach the feed, the program and Typesense's reads; the write is refused.
    rt.redis.delete(f"jc:cassettes:run:{run_ids[1]}")
    fresh = SearchClient.from_settings(rt.settings)
    fresh.delete(fns.COLLECTION, run_ids[1])
    before = world(rt, feed, log)
    allowed = shadow_run(rt, run_ids[1],
                         Options(allow=["calendar", "docs-fetch", "command", "typesense"]))
    after = world(rt, feed, log)
    assert after == {**before, "feed": before["feed"] + 2,
                     "programs": before["programs"] + 1}
    assert run_ids[1] not in {d["id"] for d in after["typesense"]}  # the upsert never landed
    assert "typesense: POST /upsert into shadow_outbound: no recording" in (allowed.error or "")
    assert [h.outcome for h in allowed.held] == ["refused"]
