"""docker/compose.yml, read as compose reads it (YAML merge keys, `$$` for a literal `$`), with no
Docker engine: nothing in it is required to start the stack, every process has a healthcheck of
its own, Flower is opt-in and never without auth, and user function modules have a place.

The healthcheck and Flower commands are then run here as they are written, against real
processes started with the compose commands: a web answering 503 because no worker runs is
healthy, a frozen worker is not."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from joelclaw import health
from joelclaw.config import Settings
from joelclaw.embedded import free_port
from tests.support import REPO, WorkerProcess, env_for, wait_for

pytestmark = pytest.mark.timeout(180)
COMPOSE = REPO / "docker" / "compose.yml"
PROCESSES = ("web", "worker", "gateway", "beat", "flower")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def argv(command: list[str] | str) -> list[str]:
    """A service's command as the container runs it (compose turns `$$` into `$`)."""
    parts = command if isinstance(command, list) else command.split()
    return [part.replace("$$", "$") for part in parts]


def probe_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD"
    return [sys.executable if test[1] == "python" else test[1], *test[2:]]


def run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


# ---- the file ------------------------------------------------------------------------------

def test_nothing_in_the_file_is_required_to_start_the_stack() -> None:
    text = COMPOSE.read_text()
    references = re.findall(r"(?<!\$)\$\{([^}]*)\}", text)
    assert references, "the file interpolates the published ports"
    for reference in references:
        assert "?" not in reference, f"${{{reference}}} makes `docker compose up` fail unset"
        assert ":-" in reference, f"${{{reference}}} has no default"


def test_every_process_has_a_healthcheck_of_its_own(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "typesense", *PROCESSES}
    assert services["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert services["typesense"]["healthcheck"]["test"][:3] == ["CMD", "bash", "-c"]
    for name in PROCESSES:
        check = services[name]["healthcheck"]
        assert check["test"] == ["CMD", "python", "-m", "joelclaw.probe", name], name
        assert check["interval"] and check["retries"] and check["start_period"]
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_flower_is_opt_in_needs_auth_and_everything_is_published_on_loopback(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    flower = services["flower"]
    assert flower["profiles"] == ["flower"]
    assert flower["environment"].get("FLOWER_UNAUTHENTICATED_API") in (None, "false")
    script = " ".join(argv(flower["command"]))
    assert "FLOWER_BASIC_AUTH=" in script and "unset FLOWER_UNAUTHENTICATED_API" in script
    assert [name for name, s in services.items() if "profiles" in s] == ["flower"]
    for name, service in services.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), (name, port)


def test_every_process_finds_typesense_with_the_servers_own_key(
    compose: dict[str, Any],
) -> None:
    server = compose["services"]["typesense"]
    key = server["command"][server["command"].index("--api-key") + 1]
    assert server["image"] == "typesense/typesense:0.24.1"  # the version `joelclaw up` embeds
    for name in PROCESSES:
        env = compose["services"][name]["environment"]
        assert env["JOELCLAW_TYPESENSE_URL"] == "http://typesense:8108", name
        assert env["JOELCLAW_TYPESENSE_API_KEY"] == key, name


def test_the_typesense_healthcheck_asks_a_real_server_and_fails_on_a_closed_port(
    compose: dict[str, Any], typesense_server: Any,
) -> None:
    test = compose["services"]["typesense"]["healthcheck"]["test"]
    script = test[3]
    assert "127.0.0.1/8108" in script
    up = subprocess.run(["bash", "-c", script.replace("/8108", f"/{typesense_server.port}")],
                        capture_output=True, timeout=20)
    assert up.returncode == 0, up.stderr
    down = subprocess.run(["bash", "-c", script.replace("/8108", f"/{free_port()}")],
                          capture_output=True, timeout=20)
    assert down.returncode != 0


def test_user_function_modules_are_mounted_on_every_pythonpath(
    compose: dict[str, Any],
) -> None:
    for name in PROCESSES:
        service = compose["services"][name]
        assert "./functions:/functions:ro" in service["volumes"], name
        assert "/functions" in service["environment"]["PYTHONPATH"].split(":"), name
        assert service["environment"]["JOELCLAW_REDIS_URL"] == "redis://redis:6379/0"
    assert (COMPOSE.parent / "functions" / "README.md").is_file()


def test_the_web_binds_inside_the_container_whatever_env_file_says(
    compose: dict[str, Any],
) -> None:
    web = compose["services"]["web"]
    assert web["environment"]["JOELCLAW_WEB_HOST"] == "0.0.0.0"
    assert web["environment"]["JOELCLAW_WEB_PORT"] == "3111"
    assert web["ports"] == ["127.0.0.1:${JOELCLAW_WEB_PORT:-3111}:3111"]
    assert argv(web["command"])[:3] == ["gunicorn", "-c", "python:joelclaw.webserver"]


# ---- the commands, run against real processes ------------------------------------------------

@pytest.fixture
def local_env(settings: Settings) -> dict[str, str]:
    """The compose environment, with this test's Redis and home instead of the containers'."""
    env = {k: v for k, v in env_for(settings).items() if not k.startswith("FLOWER_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


@contextlib.contextmanager
def started(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGCONT)
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def test_the_web_healthcheck_ignores_the_workers_faults(
    compose: dict[str, Any], local_env: dict[str, str], tmp_path: Path,
) -> None:
    web = compose["services"]["web"]
    port = free_port()
    token = "compose-token-0123456789"
    env = {**local_env, "JOELCLAW_WEB_HOST": "127.0.0.1", "JOELCLAW_WEB_PORT": str(port),
           "JOELCLAW_API_TOKEN": token}
    probe = probe_argv(web)
    down = run(probe, env)
    assert down.returncode == 1 and "unhealthy" in down.stderr
    command = [sys.executable, "-m", *argv(web["command"])[:3], "--no-control-socket",
               *argv(web["command"])[3:]]
    with started(command, env, tmp_path / "web.log"):
        wait_for(lambda: run(probe, env).returncode == 0, timeout=30, message="web healthy")
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5,
                         headers={"Authorization": f"Bearer {token}"}).status_code == 503
    assert run(probe, env).returncode == 1


def test_a_worker_is_healthy_while_its_own_node_stamps_and_not_when_frozen(
    compose: dict[str, Any], local_env: dict[str, str], settings: Settings, tmp_path: Path,
) -> None:
    probe = probe_argv(compose["services"]["worker"])
    assert "never stamped" in run(probe, local_env).stderr
    worker = WorkerProcess(settings, tmp_path / "worker.log", name="worker", queues="joelclaw",
                           concurrency=1).wait_ready()
    try:
        wait_for(lambda: run(probe, local_env).returncode == 0, timeout=20,
                 message="worker healthy")
        gateway_probe = probe_argv(compose["services"]["gateway"])
        assert run(gateway_probe, local_env).returncode == 1  # another node's stamp won't do
        os.kill(worker.process.pid, signal.SIGSTOP)
        # frozen, it stops stamping: once its last stamp is stale the probe says so
        frozen = wait_for(lambda: (probed := run(probe, local_env)).returncode == 1 and probed,
                          timeout=health.WORKER_STALE_SECONDS + 30, message="worker unhealthy")
        assert "last stamped" in frozen.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.process.pid, signal.SIGCONT)
        worker.stop()


def test_the_gateway_and_beat_healthchecks_against_their_compose_commands(
    compose: dict[str, Any], local_env: dict[str, str], settings: Settings, tmp_path: Path,
) -> None:
    services = compose["services"]
    gateway = WorkerProcess(settings, tmp_path / "gateway.log", name="gateway",
                            queues="gateway", concurrency=1).wait_ready()
    try:
        wait_for(lambda: run(probe_argv(services["gateway"]), local_env).returncode == 0,
                 timeout=20, message="gateway healthy")
    finally:
        gateway.stop()
    beat_probe = probe_argv(services["beat"])
    assert "never ticked" in run(beat_probe, local_env).stderr
    beat = [sys.executable, "-m", *argv(services["beat"]["command"])]
    beat[beat.index("-s") + 1] = str(tmp_path / "beat-schedule")
    with started(beat, local_env, tmp_path / "beat.log"):
        wait_for(lambda: run(beat_probe, local_env).returncode == 0, timeout=30,
                 message="beat healthy")


def test_flower_refuses_to_start_without_credentials_and_requires_them_with(
    compose: dict[str, Any], local_env: dict[str, str], tmp_path: Path,
) -> None:
    flower = compose["services"]["flower"]
    command = argv(flower["command"])
    assert command[:2] == ["sh", "-c"]
    port = free_port()
    script = (command[2].replace("--address=0.0.0.0", "--address=127.0.0.1")
              .replace("--port=5555", f"--port={port}")
              .replace("exec celery", f"exec {sys.executable} -m celery"))
    refused = run(["sh", "-c", script], {**local_env, "FLOWER_UNAUTHENTICATED_API": "true"})
    assert refused.returncode == 78 and "JOELCLAW_FLOWER_PASSWORD" in refused.stderr
    env = {**local_env, "JOELCLAW_FLOWER_USER": "owner", "JOELCLAW_FLOWER_PASSWORD": "pw-91x",
           "FLOWER_UNAUTHENTICATED_API": "true", "JOELCLAW_FLOWER_PORT": str(port)}
    probe = probe_argv(flower)
    with started(["sh", "-c", script], env, tmp_path / "flower.log"):
        wait_for(lambda: run(probe, env).returncode == 0, timeout=40, interval=0.5,
                 message="flower healthy")
        url = f"http://127.0.0.1:{port}/api/workers"
        assert httpx.get(url, timeout=10).status_code == 401
        assert httpx.get(url, auth=("owner", "pw-91x"), timeout=10).status_code == 200

