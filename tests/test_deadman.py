"""The dead-man's switch: one Telegram message per silence of the whole system, one when it is
back, from a watcher that needs neither the workers nor Redis.

The rules run against a real Redis and the fake Bot API with an injected clock; the process
test stops a real Redis, worker and beat under a running `python -m joelclaw.deadman`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from joelclaw import keys
from joelclaw.deadman import HttpHealth, RedisHeartbeat, State, Watcher, watcher_for
from joelclaw.embedded import RedisServer
from joelclaw.errors import ConfigError
from tests.conftest import make_settings
from tests.fakes.jsonhttp import JsonServer
from tests.fakes.telegram import FakeTelegram
from tests.support import ChildProcess, WorkerProcess, wait_for

pytestmark = pytest.mark.timeout(120)
OWNER = 4242


class FakeClock:
    def __init__(self, start: float):
        self.now = start

    def __call__(self) -> float:
        return self.now


def stamp(client: redis.Redis, at: float, *, beat: bool = True, worker: bool = True) -> None:
    """What beat and a worker's sweeper write while they live (joelclaw.health reads the same)."""
    if beat:
        client.set(keys.BEAT_TICK, at)
    if worker:
        client.hset(keys.WORKERS_SEEN, "w0@host", json.dumps({"at": at, "queues": ["joelclaw"]}))


def owner_texts(tg: FakeTelegram) -> list[str]:
    return [m["text"] for m in tg.sent_messages(OWNER)]


@pytest.fixture
def watch(tmp_path: Path, redis_url: str, tg: FakeTelegram
          ) -> Iterator[Callable[..., tuple[Watcher, FakeClock]]]:
    made: list[Watcher] = []

    def make(start: float = 1_000_000.0, silence: float = 60.0) -> tuple[Watcher, FakeClock]:
        settings = make_settings(tmp_path / "home", redis_url, telegram_token=tg.token,
                                 telegram_api_url=tg.base_url, telegram_owner_id=OWNER,
                                 deadman_silence_seconds=silence)
        clock = FakeClock(start)
        watcher = watcher_for(settings, clock=clock)
        made.append(watcher)
        return watcher, clock

    yield make
    for watcher in made:
        watcher.close()


@pytest.fixture
def heart(redis_url: str) -> Iterator[redis.Redis]:
    """Where the test writes the system's heartbeat stamps."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def beating(watch, heart: redis.Redis) -> tuple[Watcher, FakeClock]:
    """A watcher (60 s of silence is too long) that has seen the system beat at its start."""
    watcher, clock = watch(silence=60)
    stamp(heart, clock.now)
    assert watcher.check().silent_since is None
    return watcher, clock


def watcher_of(source: Any, tmp_path: Path, start: float, silence: float
               ) -> tuple[Watcher, FakeClock, list[str]]:
    """A watcher of one source, telling a list instead of the owner."""
    clock, sent = FakeClock(start), []
    watcher = Watcher([source], sent.append, tmp_path / "state.json", silence_seconds=silence,
                      clock=clock)
    return watcher, clock, sent


def test_one_message_per_silence_and_one_when_it_is_back(beating, heart, tg) -> None:
    watcher, clock = beating
    clock.now += 30  # beat and workers stop stamping: stale, but not silent long enough yet
    state = watcher.check()
    assert state.silent_since == 1_000_000.0 and state.alerted_at is None
    assert "beat has not ticked for 30 s" in state.reasons
    assert owner_texts(tg) == []
    for _ in range(5):  # past the limit: exactly one message, however often it looks
        clock.now += 20
        watcher.check()
    texts = owner_texts(tg)
    assert len(texts) == 1 and texts[0].startswith("⚠️ joelclaw is silent: no heartbeat for")
    assert "beat has not ticked" in texts[0] and "no worker is alive" in texts[0]
    stamp(heart, clock.now)  # back
    state = watcher.check()
    watcher.check()
    texts = owner_texts(tg)
    assert len(texts) == 2 and texts[1].startswith("✅ joelclaw is back")
    assert state.alerted_at is None and state.silent_since is None and state.recoveries == 1
    for _ in range(4):  # a second silence is a second message
        clock.now += 20
        watcher.check()
    assert len(owner_texts(tg)) == 3


def test_a_stopped_beat_alone_is_silence(beating, heart) -> None:
    """Crons stop with beat: live workers do not make up for it."""
    watcher, clock = beating
    for _ in range(3):
        clock.now += 30
        stamp(heart, clock.now, beat=False)
        state = watcher.check()
    assert state.alerted_at is not None and state.reasons == ["beat has not ticked for 1 m 30 s"]


def test_stamps_from_before_the_alert_are_no_recovery(beating, heart, tg) -> None:
    """A restarted Redis restores the last stamps from its append-only file: not a heartbeat."""
    watcher, clock = beating
    for _ in range(2):
        clock.now += 30
        state = watcher.check()
    assert state.alerted_at == clock.now
    stamp(heart, clock.now - 1)  # fresh by age, but written before the owner was told
    clock.now += 1
    state = watcher.check()
    assert len(owner_texts(tg)) == 1 and state.alerted_at is not None
    stamp(heart, clock.now)
    watcher.check()
    assert len(owner_texts(tg)) == 2


def test_an_unreachable_redis_is_silence_counted_from_the_last_beat(tmp_path) -> None:
    url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    watcher, clock, sent = watcher_of(RedisHeartbeat(url), tmp_path, 2_000_000.0, 60)
    State(checked_at=clock.now - 5, watching_since=clock.now - 600,
          last_beat=clock.now - 50).save(tmp_path / "state.json")
    state = watcher.check()
    assert state.silent_since == clock.now - 50 and not sent
    assert state.reasons == ["Redis unreachable (ConnectionError)"]
    clock.now += 10
    watcher.check()
    assert len(sent) == 1 and "Redis unreachable" in sent[0]


def test_a_watcher_that_was_off_does_not_report_its_own_absence(watch, heart, tg) -> None:
    """Stale stamps from before the watcher started count from its start, not from then."""
    watcher, clock = watch(silence=60)
    stamp(heart, clock.now - 3600)  # the system (and the watcher) were down an hour ago
    state = watcher.check()
    assert state.silent_since == clock.now and owner_texts(tg) == []
    for _ in range(2):
        clock.now += 31
        watcher.check()
    assert len(owner_texts(tg)) == 1


def test_a_message_telegram_refuses_is_sent_at_the_next_check(beating, tg) -> None:
    watcher, clock = beating
    tg.fail_next("sendMessage", 500, "Internal Server Error", times=2)  # both attempts
    for _ in range(2):
        clock.now += 30
        state = watcher.check()
    assert state.alerted_at is None and "500" in (state.last_error or "")
    assert owner_texts(tg) == []
    clock.now += 5
    state = watcher.check()
    assert state.alerted_at == clock.now and len(owner_texts(tg)) == 1
    assert state.last_error is None


class Health(JsonServer):
    """A stand-in for the web's /health: answers what the test sets."""

    answer: tuple[int, dict] = (200, {"ok": True, "status": "ok"})

    def routes(self):
        return [("GET", "/health", lambda _m, _r: self.answer)]


def test_the_health_url_of_another_machine_is_a_heartbeat(tmp_path) -> None:
    with Health() as health:
        watcher, clock, sent = watcher_of(HttpHealth(health.url + "/health"), tmp_path,
                                          3_000_000.0, 30)
        assert watcher.check().silent_since is None
        health.answer = (503, {"ok": False, "status": "down", "failing": ["beat", "workers"]})
        clock.now += 31
        state = watcher.check()
        assert len(sent) == 1 and "answered 503: failing beat, workers" in sent[0]
        health.answer = (200, {"ok": True, "status": "degraded"})
        clock.now += 5
        state = watcher.check()
        assert len(sent) == 2 and state.silent_since is None
        watcher.close()


def test_without_telegram_or_anything_to_watch_it_says_what_to_set(tmp_path, tg) -> None:
    settings = make_settings(tmp_path / "home", "redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="JOELCLAW_TELEGRAM_TOKEN"):
        watcher_for(settings)
    nothing = make_settings(tmp_path / "home", None, telegram_token=tg.token,  # type: ignore
                            telegram_owner_id=OWNER)
    with pytest.raises(ConfigError, match="nothing to watch"):
        watcher_for(nothing)


# ---- the whole thing, with real processes ----------------------------------------------------

@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis this test may stop (the session's is shared)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def test_stopping_everything_but_the_watcher_gets_the_owner_one_message(
        tmp_path, own_redis, tg, beat_factory) -> None:
    settings = make_settings(tmp_path / "home", own_redis.url, telegram_token=tg.token,
                             telegram_api_url=tg.base_url, telegram_owner_id=OWNER,
                             deadman_silence_seconds=4.0, deadman_interval_seconds=0.2)
    state_file = settings.home_dir / "deadman.json"

    def state() -> dict:
        try:
            return json.loads(state_file.read_text())
        except (OSError, ValueError):
            return {}

    def watcher_texts() -> list[str]:
        """The owner's messages but the gateway check's: this test runs no gateway, so when
        beat's five-minute `gateway-health-check` falls inside the test it rightly reports the
        gateway's heartbeat stale (a message of its own, not the dead-man's switch's)."""
        return [t for t in owner_texts(tg) if "Gateway heartbeat is stale" not in t]

    worker = WorkerProcess(settings, tmp_path / "worker.log", name="w0", queues="joelclaw",
                           concurrency=1).wait_ready()
    beat = beat_factory(settings)
    client = redis.Redis.from_url(own_redis.url)
    wait_for(lambda: client.get(keys.BEAT_TICK), timeout=60,
             message="beat ticking")  # the system is up before its watcher starts
    client.close()
    watcher = ChildProcess(settings, tmp_path / "watchdog.log", "-m", "joelclaw.deadman")
    try:
        wait_for(lambda: state().get("last_beat") and state().get("silent_since") is None,
                 timeout=60, message="the watcher sees the system beating")
        worker.stop()  # everything but the watcher
        beat.stop()
        own_redis.stop()
        wait_for(watcher_texts, timeout=40, message="the silence message")
        checked = state()["checked_at"]
        wait_for(lambda: state().get("checked_at", 0) > checked + 1.0, timeout=20,
                 message="five more checks")  # many checks later, still one message
        texts = watcher_texts()
        assert len(texts) == 1 and "Redis unreachable" in texts[0], texts

        own_redis.start()  # back: same port, same password
        worker = WorkerProcess(settings, tmp_path / "worker2.log", name="w1",
                               queues="joelclaw", concurrency=1).wait_ready()
        beat_factory(settings)
        wait_for(lambda: len(watcher_texts()) >= 2, timeout=60,
                 message="the recovery message")
        recovered = state()["checked_at"]
        # beat and the new worker keep stamping after it: the heartbeat moves on, no flapping
        wait_for(lambda: (state().get("last_beat") or 0) > recovered + 2.0, timeout=30,
                 message="a heartbeat written after the recovery")
        texts = watcher_texts()
        assert len(texts) == 2 and texts[1].startswith("✅ joelclaw is back"), texts
        assert watcher.poll() is None, "the watcher never stopped"
    finally:
        status = watcher.stop()
        worker.stop()
    assert status == 0
    assert "watching redis" in (tmp_path / "watchdog.log").read_text()


# ---- the command line and `up` ---------------------------------------------------------------

def test_watchdog_check_and_status_on_the_command_line(tmp_path, redis_url, tg) -> None:
    from click.testing import CliRunner

    from joelclaw.cli import cli

    env = {"JOELCLAW_REDIS_URL": redis_url, "JOELCLAW_HOME": str(tmp_path / "home"),
           "JOELCLAW_TELEGRAM_TOKEN": tg.token, "JOELCLAW_TELEGRAM_API_URL": tg.base_url,
           "JOELCLAW_TELEGRAM_OWNER_ID": str(OWNER)}
    runner = CliRunner()
    never = json.loads(runner.invoke(cli, ["watchdog", "status", "--json"], env=env).stdout)
    assert never["ok"] and never["result"]["status"] == "never ran"
    result = runner.invoke(cli, ["watchdog", "check", "--json"], env=env)
    assert result.exit_code == 0, result.output
    checked = json.loads(result.stdout)["result"]
    # an empty Redis: nothing has beaten, but the watcher only just started watching
    assert checked["status"] == "silent" and checked["sources"] == ["redis"]
    assert "beat has not ticked" in checked["reasons"] and owner_texts(tg) == []
    text = runner.invoke(cli, ["watchdog", "status", "--text"], env=env).stdout
    assert "watchdog: silent" in text and "why: beat has not ticked" in text
    bare = {k: v for k, v in env.items() if "TELEGRAM" not in k}
    refused = runner.invoke(cli, ["watchdog", "check", "--json"], env=bare)
    assert refused.exit_code == 2
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "WATCHDOG_NOT_CONFIGURED"
    assert "JOELCLAW_TELEGRAM_OWNER_ID" in error["message"]


def test_up_runs_the_watchdog_when_it_has_someone_to_tell(tmp_path, tg) -> None:
    from joelclaw.supervisor import commands

    told = make_settings(tmp_path, "redis://127.0.0.1:1/0", telegram_token=tg.token,
                         telegram_owner_id=OWNER)
    plan = {c.name: c.argv for c in commands(told)}
    assert plan["watchdog"][1:] == ["-m", "joelclaw.deadman"]
    assert "watchdog" not in {c.name for c in commands(told, watchdog=False)}
    nobody = make_settings(tmp_path, "redis://127.0.0.1:1/0")
    assert "watchdog" not in {c.name for c in commands(nobody)}
