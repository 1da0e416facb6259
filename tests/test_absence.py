"""Absence triggers: a run when an expected event did not arrive for a while, per key, once per
silence, reset by the next event, durable across worker restarts; real Redis and workers."""

from __future__ import annotations

import json
import time

import pytest
import redis

from joelclaw import absent, keys
from joelclaw.bus.flow import absence
from joelclaw.errors import FunctionDefinitionError
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import wait_for

pytestmark = pytest.mark.timeout(120)
DEVICE, ANY = "t-absent-device", "t-absent-any"


def test_an_absent_trigger_is_declared_and_described() -> None:
    trig = absent("health/sync.completed", for_="3d", key="data.device")
    assert trig.absent_for == 3 * 86400 and trig.absent_key.source == "event.data.device"
    assert trig.describe() == "absent health/sync.completed for 3 d 00 h per event.data.device"
    with pytest.raises(FunctionDefinitionError, match="invalid absent trigger"):
        absent("Not An Event", for_="1h")
    with pytest.raises(FunctionDefinitionError, match="invalid duration"):
        absent("a/b", for_="soon")


@pytest.fixture
def rt(tmp_path, redis_url) -> Runtime:
    return Runtime(make_settings(tmp_path / "home", redis_url,
                                 function_modules=["tests.absence_functions"]))


def send(rt: Runtime, device: str, ok: bool = True) -> None:
    rt.send([Event(name="test/device.synced", data={"device": device, "ok": ok})])


def completed(rt: Runtime, function: str, count: int) -> list:
    runs = rt.runs.list(function=function, limit=50)
    return runs if len(runs) == count and all(r.status == "completed" for r in runs) else []


def sweeps(client: redis.Redis, count: int = 5) -> None:
    """Wait for the worker's sweeper to go round `count` more times (it stamps each round)."""
    for _ in range(count):
        seen = client.hgetall(keys.WORKERS_SEEN)
        wait_for(lambda seen=seen: client.hgetall(keys.WORKERS_SEEN) != seen, timeout=20,
                 message="a sweeper round")


def test_a_silence_per_key_starts_one_run_and_the_next_event_starts_a_new_watch(
        rt, worker_factory) -> None:
    client = rt.redis
    worker_factory(settings_override=rt.settings)
    send(rt, "a")
    send(rt, "b")
    send(rt, "c", ok=False)  # filtered out: c is never watched
    runs = wait_for(lambda: completed(rt, DEVICE, 2), timeout=40,
                    message="one run per silent device")
    by_key = {r.output["key"]: r for r in runs}
    assert set(by_key) == {"a", "b"}
    first = by_key["a"].output
    assert first["event"] == "test/device.synced" and first["for_s"] == 2.0
    assert first["silent_s"] >= 2.0 and first["last_event_id"]
    assert by_key["a"].event["name"] == "joelclaw/absence.detected"
    assert by_key["a"].trigger == "absent"
    sweeps(client)  # many sweeps later: still one run per silence
    assert len(rt.runs.list(function=DEVICE, limit=50)) == 2
    rows = {w["key"]: w for w in absence.watches(rt) if w["function"] == DEVICE}
    assert rows["a"]["status"] == "fired" and rows["a"]["due_at"] is None

    send(rt, "a")  # a syncs again: a new silence begins
    rows = {w["key"]: w for w in absence.watches(rt) if w["function"] == DEVICE}
    assert rows["a"]["status"] == "watching" and rows["a"]["due_at"] > time.time()
    runs = wait_for(lambda: completed(rt, DEVICE, 3), timeout=40, message="the second silence")
    again = [r for r in runs if r.output["key"] == "a"]
    assert len(again) == 2 and again[0].output["since"] != again[1].output["since"]


def test_a_deadline_that_passed_while_no_worker_ran_fires_once_when_one_starts(
        rt, worker_factory) -> None:
    client = rt.redis
    send(rt, "d")
    member = absence.target(DEVICE, 0, "d")
    due = client.zscore(keys.WAKEUPS, member)
    wait_for(lambda: time.time() > due + 0.5, timeout=10,
             message="the deadline passing with no worker")
    assert rt.runs.list(function=DEVICE, limit=10) == []
    first = worker_factory(settings_override=rt.settings)
    wait_for(lambda: completed(rt, DEVICE, 1), timeout=40, message="the late silence run")
    # the key-less watch was armed by that worker's start and fires once too
    wait_for(lambda: completed(rt, ANY, 1), timeout=40, message="nothing pinged")
    first.stop()
    worker_factory(settings_override=rt.settings)  # a restart does not arm it again
    sweeps(client)
    assert len(rt.runs.list(function=ANY, limit=10)) == 1
    assert len(rt.runs.list(function=DEVICE, limit=10)) == 1


def test_functions_and_schedule_list_absence_triggers_and_watches(rt, tmp_path) -> None:
    from click.testing import CliRunner

    from joelclaw.cli import cli

    send(rt, "e")
    env = {"JOELCLAW_REDIS_URL": rt.settings.redis_url or "",
           "JOELCLAW_HOME": str(tmp_path / "home"),
           "JOELCLAW_FUNCTION_MODULES": "tests.absence_functions"}
    runner = CliRunner()
    functions = json.loads(runner.invoke(cli, ["functions", "--json"], env=env).stdout)
    rows = {f["id"]: f for f in functions["result"]}
    assert rows[DEVICE]["triggers"] == [
        "absent test/device.synced if event.data.ok for 2.0 s per event.data.device"]
    schedule = json.loads(runner.invoke(cli, ["schedule", "--json"], env=env).stdout)
    watch = next(w for w in schedule["result"]["absences"] if w["function"] == DEVICE)
    assert watch["key"] == "e" and watch["status"] == "watching" and watch["for_s"] == 2.0
    text = runner.invoke(cli, ["schedule", "--text"], env=env).stdout
    assert "absence watches" in text and "test/device.synced" in text


def test_the_dashboard_shows_an_absence_trigger(tmp_path, redis_url) -> None:
    from webhooks import create_app

    app = create_app(make_settings(tmp_path / "home", redis_url, web_open_on_loopback=True,
                                   function_modules=["tests.absence_functions"]))
    client = app.test_client()
    rows = {f["id"]: f for f in client.get("/api/dashboard/functions").json["functions"]}
    trig = rows[DEVICE]["triggers"][0]
    assert trig["kind"] == "absent" and trig["key"] == "event.data.device"
    assert trig["for_s"] == 2.0 and trig["if"] == "event.data.ok"
    page = client.get("/functions").get_data(as_text=True)
    assert "data-absent" in page and "test/device.synced" in page
