"""Each worker role apart, in every view of the one health report: with the main worker frozen
(SIGSTOP) the live gateway worker must not keep `/health` at 200, and `/health`, `joelclaw
status` and the owner's Telegram `/status` all say which role is gone.

Real Redis, a real main worker (`-Q joelclaw`), a real gateway worker (`-Q gateway`) talking to
the fake Telegram, the real Flask app and the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from joelclaw import health, keys
from joelclaw.cli import cli
from joelclaw.runtime import Runtime
from tests.gateway.conftest import OWNER, replies, wait_replies
from tests.support import WorkerProcess, env_for, wait_for
from webhooks import create_app

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def system(start_gateway: Callable[..., tuple[WorkerProcess, Runtime]],
           worker_factory: Callable[..., WorkerProcess]
           ) -> Iterator[tuple[WorkerProcess, WorkerProcess, Runtime]]:
    gateway, rt = start_gateway()
    main = worker_factory(queues="joelclaw", settings_override=rt.settings)
    try:
        yield main, gateway, rt
    finally:  # a stopped process cannot act on the SIGTERM its fixture sends
        with contextlib.suppress(ProcessLookupError):
            os.kill(main.process.pid, signal.SIGCONT)


def cli_status(rt: Runtime) -> dict[str, Any]:
    env = {k: v for k, v in env_for(rt.settings).items() if k.startswith("JOELCLAW_")}
    result = CliRunner().invoke(cli, ["status", "--json"], env=env)
    assert result.exit_code == 0, result.output
    envelope: dict[str, Any] = json.loads(result.stdout)
    return envelope["result"]


def telegram_status(tg: Any) -> str:
    before = len(replies(tg))
    tg.push_message(OWNER, OWNER, "/status")
    return wait_replies(tg, before + 1)[-1]


def test_a_frozen_main_worker_fails_health_although_the_gateway_worker_lives(
    tg: Any, system: tuple[WorkerProcess, WorkerProcess, Runtime]
) -> None:
    main, gateway, rt = system
    client = create_app(rt.settings.with_overrides(web_open_on_loopback=True)).test_client()
    rt.redis.set(keys.BEAT_TICK, time.time() + 3600)  # beat is not under test here

    def roles(body: dict[str, Any]) -> dict[str, Any]:
        return body["components"]["workers"]["roles"]

    healthy = wait_for(lambda: (r := client.get("/health")).status_code == 200
                       and roles(r.get_json())["gateway"]["alive"] and r.get_json(),
                       timeout=30, message="both roles alive")
    by_node = {n["hostname"]: n for n in healthy["components"]["workers"]["seen"]}
    main_node = next(name for name in by_node if name.startswith("w1@"))
    gateway_node = next(name for name in by_node if name.startswith("w0@"))
    assert by_node[main_node]["queues"] == ["joelclaw"]
    assert by_node[main_node]["roles"] == ["worker"]
    assert by_node[gateway_node]["queues"] == ["gateway"]
    assert by_node[gateway_node]["roles"] == ["gateway"]
    assert "worker 1 alive, gateway 1 alive" in telegram_status(tg)

    os.kill(main.process.pid, signal.SIGSTOP)
    down = wait_for(lambda: (r := client.get("/health")).status_code == 503 and r.get_json(),
                    timeout=health.WORKER_STALE_SECONDS + 15, message="503 once frozen")
    assert down["failing"] == ["workers"]
    assert roles(down)["worker"]["alive"] == 0 and roles(down)["worker"]["stale"] == [main_node]
    assert roles(down)["gateway"]["alive"] == 1 and roles(down)["gateway"]["ok"]

    status = cli_status(rt)
    assert status["ok"] is False and status["failing"] == ["workers"]
    assert status["workers"]["roles"]["worker"]["alive"] == 0
    assert status["workers"]["roles"]["gateway"]["alive"] == 1
    told = telegram_status(tg)
    assert "failing: workers" in told and "worker 0 alive, gateway 1 alive" in told

    os.kill(main.process.pid, signal.SIGCONT)
    wait_for(lambda: client.get("/health").status_code == 200, timeout=30,
             message="200 again once the worker runs")
    assert main.process.poll() is None and gateway.process.poll() is None


def test_stamps_without_queues_fall_back_to_the_node_name(runtime: Runtime) -> None:
    now = time.time()
    runtime.redis.hset(keys.WORKERS_SEEN, mapping={
        "gateway@old": now, "worker@old": now - 3600,
        "both@new": json.dumps({"at": now, "queues": ["gateway", "joelclaw"]}),
        "junk@x": "not a stamp"})
    seen = {n.hostname: n for n in health.nodes(runtime, now)}
    assert set(seen) == {"gateway@old", "worker@old", "both@new"}
    assert seen["gateway@old"].roles == ["gateway"] and seen["gateway@old"].queues is None
    assert seen["worker@old"].roles == ["worker"] and not seen["worker@old"].alive
    assert seen["both@new"].roles == ["worker", "gateway"] and seen["both@new"].alive
