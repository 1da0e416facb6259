"""Hot reload with real workers: function modules written into tmp_path (on PYTHONPATH), changed
while runs are in flight, and `joelclaw reload` run as a real CLI process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from joelclaw import keys
from joelclaw.bus.celery import queues
from joelclaw.bus.flow import waits
from joelclaw.bus.records import TERMINAL, Run, Sleeping, codestate
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import REPO, env_for, wait_for

pytestmark = pytest.mark.timeout(180)

COUNTS = "jc:test:reload:counts"
GATE = "jc:test:reload:gate"

HEADER = '''
import os
import signal
import time

import redis

from joelclaw.bus.functions import cron, function, trigger

VERSION = {version!r}


def count(step):
    redis.Redis.from_url(os.environ["JOELCLAW_REDIS_URL"]).hincrby({counts!r}, step, 1)
    return VERSION
'''

SLEEPER = '''
@function("reload-sleeper", trigger="test/reload.sleep")
def sleeper(ctx):
    before = ctx.step.run("before", lambda: count("before"))
    ctx.step.sleep("nap", "1h")
    after = ctx.step.run("after", lambda: count("after"))
    return {"before": before, "after": after}
'''

SLOW = '''
def slow():
    count("slow-started")
    gate = redis.Redis.from_url(os.environ["JOELCLAW_REDIS_URL"])
    while not gate.exists({gate!r}):  # held until the test opens the gate
        time.sleep(0.02)
    return count("slow")


@function("reload-slow", trigger="test/reload.slow")
def slow_fn(ctx):
    first = ctx.step.run("slow", slow)
    second = ctx.step.run("next", lambda: count("next"))
    return {"slow": first, "next": second}
'''

WAITER = '''
@function("reload-waiter", trigger="test/reload.wait")
def waiter(ctx):
    ctx.step.run("before", lambda: count("waiter-before"))
    ctx.step.wait_for_event("approval", "test/reload.approved", timeout="1h")
    return count("waiter-after")
'''

NEWCOMER = '''
@function("reload-newcomer", trigger="test/reload.new")
def newcomer(ctx):
    return ctx.step.run("hello", lambda: count("newcomer"))
'''

CRON = '''
@function("reload-cron", trigger=cron({expr!r}))
def cron_fn(ctx):
    return count("cron")
'''


class Code:
    """A function module in tmp_path that a test rewrites between reloads."""

    def __init__(self, root: Path):
        self.root = root
        self.name = f"reloadfns_{uuid.uuid4().hex[:8]}"
        self.path = root / f"{self.name}.py"

    def write(self, version: str, *parts: str) -> None:
        text = textwrap.dedent(HEADER.format(version=version, counts=COUNTS)) + "".join(
            part.replace("{gate!r}", repr(GATE)) for part in parts)
        before = self.path.stat().st_mtime_ns if self.path.exists() else 0
        self.path.write_text(text)
        if self.path.stat().st_mtime_ns == before:  # same timestamp granule: make it differ
            os.utime(self.path, ns=(before + 1_000_000, before + 1_000_000))

    @property
    def pythonpath(self) -> str:
        return os.pathsep.join([str(self.root), str(REPO)])

    def runtime(self, settings: Settings) -> Runtime:
        """A runtime of this test process on the module as it is now on disk."""
        sys.modules.pop(self.name, None)
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        return Runtime(settings)


@pytest.fixture
def code(tmp_path: Path) -> Any:
    root = tmp_path / "code"
    root.mkdir()
    made = Code(root)
    yield made
    sys.modules.pop(made.name, None)
    if str(root) in sys.path:
        sys.path.remove(str(root))


@pytest.fixture
def settings(tmp_path: Path, redis_url: str, code: Code) -> Settings:
    return make_settings(tmp_path / "home", redis_url, function_modules=[code.name])


def past_the_check_window(since: float) -> None:
    """A pool process asks Redis about reloads at most every CHECK_SECONDS, at step boundaries:
    its last look was before the held step began (`since`); once the window has passed, the
    boundary after the step asks again and sees the reload, however slow the machine."""
    wait_for(lambda: time.monotonic() - since > codestate.CHECK_SECONDS, 10,
             message="the reload check window to pass")


def start_reload(settings: Settings, code: Code, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "joelclaw.cli", "reload", "--json", *args],
                            cwd=REPO, env=env_for(settings, PYTHONPATH=code.pythonpath),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def reload_reply(process: subprocess.Popen[str]) -> dict[str, Any]:
    stdout, stderr = process.communicate(timeout=150)
    envelope = json.loads(stdout)
    assert process.returncode == (0 if envelope["ok"] else 1), stderr
    return envelope


def reload_cli(settings: Settings, code: Code, *args: str) -> dict[str, Any]:
    return reload_reply(start_reload(settings, code, *args))


def start_worker(worker_factory: Any, code: Code) -> Any:
    return worker_factory(extra_env={"PYTHONPATH": code.pythonpath})


def finished(rt: Runtime, run_id: str, timeout: float = 60) -> Run:
    return wait_for(lambda: (r := rt.runs.get(run_id)) and r.status in TERMINAL and r,
                    timeout, interval=0.1, message=f"run {run_id} to finish")


def counts(rt: Runtime) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in rt.redis.hgetall(COUNTS).items()}


def versions(rt: Runtime, run_id: str) -> dict[str, str]:
    return {s.key: s.code_version for s in rt.runs.steps(run_id)}


def test_a_run_sleeping_across_a_reload_finishes_on_the_new_code(settings, code,
                                                                  worker_factory):
    code.write("v1", SLEEPER)
    rt = code.runtime(settings)
    old_version = rt.code.version
    worker = start_worker(worker_factory, code)
    run_id = rt.send(Event(name="test/reload.sleep", data={}))[0].runs[0]
    wait_for(lambda: rt.runs.status(run_id) == "sleeping", 30, message="the run sleeping")

    code.write("v2", SLEEPER)
    reply = reload_cli(settings, code)
    assert reply["ok"], reply
    result = reply["result"]
    assert result["generation"] == 1 and result["version"] != old_version
    assert list(result["workers"].values()) == [result["version"]]  # the worker restarted
    assert worker.process.poll() is None  # started by hand: it re-executed itself, same pid

    rt.runs.save_memo(run_id, "nap", Sleeping(time.time()))  # the hour has passed
    rt.wake(run_id, time.time())
    run = finished(rt, run_id)
    assert run.status == "completed", run.error
    assert run.output == {"before": "v1", "after": "v2"}
    assert counts(rt) == {"before": 1, "after": 1}  # nothing lost, nothing ran twice
    steps = versions(rt, run_id)
    assert steps["before"] == old_version and steps["after"] == result["version"]
    assert len(set(steps.values())) == 2
    shown = subprocess.run([sys.executable, "-m", "joelclaw.cli", "run", run_id, "--text"],
                           cwd=REPO, env=env_for(settings, PYTHONPATH=code.pythonpath),
                           capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert old_version in shown.stdout and result["version"] in shown.stdout  # the code column
    assert result["previous_version"] == old_version  # the worker's start code


def test_a_running_run_finishes_its_step_then_continues_on_the_new_code(settings, code,
                                                                       worker_factory):
    code.write("v1", SLOW)
    rt = code.runtime(settings)
    worker = start_worker(worker_factory, code)
    run_id = rt.send(Event(name="test/reload.slow", data={}))[0].runs[0]
    wait_for(lambda: counts(rt).get("slow-started") == 1, 30, message="the slow step started")
    held_since = time.monotonic()

    code.write("v2", SLOW)
    reloading = start_reload(settings, code)
    wait_for(lambda: "code reload (generation 1)" in worker.output(), 60,
             message="the worker noticing the reload")
    past_the_check_window(held_since)
    rt.redis.set(GATE, 1)  # the step in flight ends only now: during the reload
    reply = reload_reply(reloading)
    assert reply["ok"], reply
    run = finished(rt, run_id)
    assert run.status == "completed", run.error
    assert run.output == {"slow": "v1", "next": "v2"}  # the step in flight finished on v1
    assert counts(rt) == {"slow-started": 1, "slow": 1, "next": 1}
    assert versions(rt, run_id)["next"] == reply["result"]["version"]


def test_a_new_function_receives_its_event_after_a_reload(settings, code, worker_factory):
    code.write("v1", SLEEPER)
    rt = code.runtime(settings)
    assert rt.send(Event(name="test/reload.new", data={}))[0].runs == []  # nobody listens yet
    start_worker(worker_factory, code)

    code.write("v2", SLEEPER, NEWCOMER)
    reply = reload_cli(settings, code)
    assert reply["ok"] and "reload-newcomer" in reply["result"]["functions"], reply
    assert reply["result"]["added"] == ["reload-newcomer"]  # against the worker's start code
    assert reply["result"]["removed"] == []
    fresh = code.runtime(settings)  # a sender on the new code (as the CLI and web are)
    run_id = fresh.send(Event(name="test/reload.new", data={}))[0].runs[0]
    run = finished(fresh, run_id)
    assert run.status == "completed" and run.output == "v2"
    assert counts(fresh) == {"newcomer": 1}


def test_a_removed_functions_waiting_run_fails_with_a_clear_error(settings, code,
                                                                  worker_factory):
    code.write("v1", SLEEPER, WAITER)
    rt = code.runtime(settings)
    start_worker(worker_factory, code)
    run_id = rt.send(Event(name="test/reload.wait", data={}))[0].runs[0]
    wait_for(lambda: rt.runs.status(run_id) == "waiting", 30, message="the run waiting")

    code.write("v2", SLEEPER)
    reply = reload_cli(settings, code)
    assert reply["ok"], reply
    result = reply["result"]
    assert result["removed"] == ["reload-waiter"] and result["failed_runs"] == [run_id]
    run = rt.runs.get(run_id)
    assert run is not None and run.status == "failed"
    assert run.error["name"] == "FunctionRemoved"
    assert "'reload-waiter'" in run.error["message"]
    assert f"removed in code version {result['version']}" in run.error["message"]
    # its waiting step ended with it and stopped listening: the event it waited for arrives
    # later and resumes nothing, nothing runs
    assert [s.status for s in rt.runs.steps(run_id) if s.key == "approval"] == ["failed"]
    assert run_id not in {w["run"] for w in waits.waiting(rt)}
    sent = rt.send(Event(name="test/reload.approved", data={}))
    assert sent[0].resumed == []
    assert rt.runs.get(run_id).status == "failed"
    assert counts(rt) == {"waiter-before": 1}


def test_a_wake_up_of_a_removed_function_fails_the_run_when_published(settings, code,
                                                                      worker_factory):
    """A run the reload could not fail at once (its lease was held) is failed by the first
    up-to-date process that would publish it, not dropped."""
    code.write("v1", SLEEPER)
    rt = code.runtime(settings)
    run_id = rt.send(Event(name="test/reload.sleep", data={}))[0].runs[0]
    start_worker(worker_factory, code)
    wait_for(lambda: rt.runs.status(run_id) == "sleeping", 30, message="the run sleeping")
    code.write("v2", WAITER)
    new = code.runtime(settings)
    functions = [fn.id for fn in new.registry]
    state = codestate.request(new.redis, new.code.version, functions, ["reload-sleeper"],
                              "test")  # recorded as a reload would, without failing runs
    assert new.publish(run_id) is False  # not published: failed instead
    run = new.runs.get(run_id)
    assert run.status == "failed" and run.error["name"] == "FunctionRemoved"
    assert state.version in run.error["message"]


def test_beat_picks_up_a_changed_cron(settings, code, tmp_path):
    code.write("v1", CRON.format(expr="0 3 * * *"))
    rt = code.runtime(settings)
    log = (tmp_path / "beat.log").open("ab")
    beat = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "joelclaw.worker", "beat", "-s",
         str(tmp_path / "beat-schedule"), "-l", "info"], cwd=REPO,
        env=env_for(settings, PYTHONPATH=code.pythonpath), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        def schedule() -> dict[str, Any] | None:
            raw = rt.redis.get(keys.BEAT_SCHEDULE)
            return json.loads(raw) if raw else None

        first = wait_for(schedule, 40, message="beat's schedule")
        assert first["entries"]["reload-cron"]["schedule"] == "<cron 0 3 * * * UTC>"
        wait_for(lambda: rt.redis.get(keys.BEAT_TICK), 20, message="beat ticking")

        code.write("v2", CRON.format(expr="30 4 * * *"), NEWCOMER.replace(
            'trigger="test/reload.new"', 'trigger=cron("*/5 * * * *")'))
        reply = reload_cli(settings, code)
        assert reply["ok"], reply
        assert reply["result"]["beat"]["code_version"] == reply["result"]["version"]
        now = schedule()
        assert now["generation"] == 1
        assert now["entries"]["reload-cron"]["schedule"] == "<cron 30 4 * * * UTC>"
        assert now["entries"]["reload-newcomer"]["schedule"] == "<cron */5 * * * * UTC>"
        assert beat.poll() is None  # started by hand: it re-executed itself
    finally:
        os.killpg(beat.pid, 15)
        beat.wait(20)
        log.close()


def test_pool_restart_reloads_like_joelclaw_reload(settings, code, worker_factory):
    code.write("v1", SLEEPER)
    rt = code.runtime(settings)
    start_worker(worker_factory, code)
    code.write("v2", SLEEPER, NEWCOMER)
    done = subprocess.run([sys.executable, "-m", "celery", "-A", "joelclaw.worker", "control",
                           "pool_restart"], cwd=REPO,
                          env=env_for(settings, PYTHONPATH=code.pythonpath),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "reload requested (generation 1)" in done.stdout
    assert "joelclaw reload" in done.stdout
    assert codestate.generation(rt.redis) == 1

    def restarted() -> bool:
        stamps = [json.loads(v) for v in rt.redis.hgetall(keys.WORKERS_SEEN).values()]
        return any(s.get("generation") == 1 for s in stamps)

    wait_for(restarted, 60, message="the worker restarted on generation 1")
    fresh = code.runtime(settings)
    run = finished(fresh, fresh.send(Event(name="test/reload.new", data={}))[0].runs[0])
    assert run.status == "completed" and run.output == "v2"


def test_reload_refuses_code_that_does_not_import(settings, code, worker_factory):
    code.write("v1", SLEEPER)
    rt = code.runtime(settings)
    code.path.write_text("def broken(:\n")
    reply = reload_cli(settings, code)
    assert not reply["ok"]
    assert reply["error"]["code"] == "RELOAD_INVALID_CODE"
    assert "nothing was reloaded" in reply["error"]["message"]
    assert codestate.generation(rt.redis) == 0  # no worker was asked to restart


def test_a_process_behind_the_last_reload_hands_unknown_runs_on_instead_of_dropping(
        settings, code):
    code.write("v1", SLEEPER)
    rt = code.runtime(settings)
    run_id = rt.send(Event(name="test/reload.sleep", data={}))[0].runs[0]
    code.write("v2", WAITER)
    stale = code.runtime(settings)  # knows no reload-sleeper, and is not the reloaded code
    codestate.request(stale.redis, "another-code", ["reload-sleeper"], [], "test")
    stale.redis.zrem(keys.WAKEUPS, run_id)
    assert stale.publish(run_id) is False
    assert stale.runs.status(run_id) == "queued"  # not failed, not dropped:
    due = stale.redis.zscore(keys.WAKEUPS, run_id)
    assert due is not None and due <= time.time() + 5  # an up-to-date process gets it soon


def test_a_worker_told_to_stop_during_its_reload_stops(settings, code, worker_factory):
    """Started by hand, a reloading worker re-executes itself after its warm shutdown, unless
    it was sent SIGTERM meanwhile: then it stops, and its run waits, queued, for a worker."""
    code.write("v1", SLOW)
    rt = code.runtime(settings)
    worker = start_worker(worker_factory, code)
    run_id = rt.send(Event(name="test/reload.slow", data={}))[0].runs[0]
    wait_for(lambda: counts(rt).get("slow-started") == 1, 30, message="the slow step started")
    held_since = time.monotonic()
    codestate.request(rt.redis, "v-next", [fn.id for fn in rt.registry], [], "test")
    wait_for(lambda: "code reload (generation 1)" in worker.output(), 20,
             message="the worker noticing the reload")
    os.kill(worker.process.pid, signal.SIGTERM)
    past_the_check_window(held_since)
    rt.redis.set(GATE, 1)  # the step in flight ends after the SIGTERM
    wait_for(lambda: worker.process.poll() is not None, 40, message="the worker to stop")
    assert worker.output().count(" ready.") == 1  # it did not start again
    run = rt.runs.get(run_id)
    assert run.status == "queued" and counts(rt) == {"slow-started": 1, "slow": 1}
    # durable: a wake-up for the next worker's sweeper, or (if this worker's sweeper got to it
    # before stopping) its message in the queue
    queued = queues.waiting_targets(rt, [keys.FUNCTION_QUEUE]) or set()
    assert rt.redis.zscore(keys.WAKEUPS, run_id) is not None or run_id in queued
