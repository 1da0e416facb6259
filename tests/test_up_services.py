"""`joelclaw up` supervises its embedded Redis and Typesense like every other child: killed, they
come back on the same port with the same data, `up` says so, and the system keeps working."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
import redis

from joelclaw.embedded import free_port
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.support import wait_for
from tests.test_supervisor import UpProcess, _other_child, _settings, up_process

__all__ = ["up_process"]  # the fixture, imported for this module's tests


def _healthy_search(url: str, key: str) -> bool:
    try:
        answer = httpx.get(f"{url}/health", timeout=2)
        collections = httpx.get(f"{url}/collections", timeout=2,
                                headers={"X-TYPESENSE-API-KEY": key})
    except httpx.HTTPError:
        return False
    return answer.status_code == 200 and answer.json().get("ok") is True and \
        collections.status_code == 200


@pytest.mark.timeout(240)
def test_killed_embedded_servers_come_back_on_their_ports_and_runs_still_complete(
    tmp_path: Path, up_process: Callable[..., UpProcess],
) -> None:
    home = tmp_path / "home"
    system = up_process(web_port=str(free_port()), flower_port=str(free_port()))
    redis_url_file, search_url_file = home / "redis" / "url", home / "typesense" / "url"
    system.wait_for(lambda: redis_url_file.exists() and search_url_file.exists(), timeout=90,
                    message="both embedded servers recorded")
    redis_url = redis_url_file.read_text().strip()
    search_url = search_url_file.read_text().strip()
    key = (home / "typesense" / "api-key").read_text().strip()
    output = system.output()
    assert f"search   {search_url}  (embedded Typesense" in output
    assert key not in output, "the Typesense key must not be printed"
    runtime = Runtime(_settings(home, redis_url=redis_url))
    runtime.redis.set("jc:test:survives", "1")
    # written to the append-only file (Redis 7: appendonlydir/, 6.2: appendonly.aof): a killed
    # process loses nothing the OS already has
    system.wait_for(lambda: any(b"jc:test:survives" in f.read_bytes()
                                for f in (home / "redis").rglob("*.aof*") if f.is_file()),
                    timeout=30, message="the key in the append-only file")
    system.wait_for(lambda: _gateway_ready(system), timeout=90, message="the workers ready")

    # When the embedded Redis is SIGKILLed under `up`, its clients still connected
    server = system.child("redis-server")
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    server.kill()
    # Then `up` says what happened and starts it again on the same port, with its data
    system.wait_for(lambda: "redis killed by SIGKILL after" in system.output(), timeout=15,
                    message="the supervisor to notice the dead Redis")
    def on_the_port() -> psutil.Process | None:
        """The new redis-server, once it names its address (it sets its process title to
        `redis-server 127.0.0.1:<port>` only when it has started)."""
        child = _other_child(system, "redis-server", server.pid)
        with contextlib.suppress(psutil.NoSuchProcess):
            if child is not None and f":{port}" in " ".join(child.cmdline()):
                return child
        return None

    restarted = wait_for(on_the_port, timeout=30, message="a new redis-server on the same port")
    assert restarted.pid != server.pid
    system.wait_for(lambda: "redis is ready again" in system.output(), timeout=30,
                    message="the restarted Redis to answer")
    assert redis.Redis.from_url(redis_url).get("jc:test:survives") == b"1"
    assert redis_url_file.read_text().strip() == redis_url

    # And a run started after the restart completes (workers reconnect, or are restarted)
    runtime = Runtime(_settings(home, redis_url=redis_url))
    runtime.send(Event(name="system/heartbeat.wake"))
    system.wait_for(lambda: any(r.status == "completed" for r in
                                runtime.runs.list(function="system-heartbeat")),
                    timeout=90, message="a heartbeat run after the Redis restart")

    # When the embedded Typesense is SIGKILLed, it comes back on the same port with its key
    search = system.child("typesense-server")
    search.kill()
    system.wait_for(lambda: "search killed by SIGKILL after" in system.output(), timeout=15,
                    message="the supervisor to notice the dead Typesense")
    system.wait_for(lambda: "search is ready again" in system.output(), timeout=60,
                    message="the restarted Typesense to be healthy")
    assert _healthy_search(search_url, key)

    # And Ctrl-C still stops everything, the servers last, and forgets both URLs
    processes = system.snapshot()
    os.killpg(system.process.pid, signal.SIGINT)
    assert system.process.wait(60) == 0, system.output()[-3000:]
    _, alive = psutil.wait_procs(processes, timeout=5)
    assert alive == []
    assert not redis_url_file.exists() and not search_url_file.exists()
    lines = system.output().splitlines()
    stopped = [line.split("|", 1)[1].split()[0] for line in lines
               if line.startswith("up ") and " stopped (" in line]
    assert stopped[-2:] == ["redis", "search"], stopped


def _gateway_ready(system: UpProcess) -> bool:
    return any(line.startswith("worker  | ") and line.endswith(" ready.")
               for line in system.output().splitlines())


@pytest.mark.timeout(120)
def test_up_with_a_typesense_url_starts_no_embedded_one(
    tmp_path: Path, up_process: Callable[..., UpProcess],
) -> None:
    home = tmp_path / "home"
    system = up_process(web_port=str(free_port()), flower_port=str(free_port()),
                        typesense_url=f"http://127.0.0.1:{free_port()}")
    system.wait_for(lambda: "Ctrl-C to stop" in system.output(), timeout=60,
                    message="the banner")
    assert "(JOELCLAW_TYPESENSE_URL)" in system.output()
    assert not (home / "typesense").exists(), "no embedded Typesense when a URL is configured"
    os.killpg(system.process.pid, signal.SIGINT)
    assert system.process.wait(60) == 0
