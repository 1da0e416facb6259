"""The Procfile's lines run as a Procfile runner runs them (`sh -c`), against real processes:
the web line serves with the shared gunicorn settings, and the flower line is always behind
basic auth (generated credentials kept under JOELCLAW_HOME, or the configured ones)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from joelclaw.config import Settings
from joelclaw.embedded import free_port
from tests.support import REPO, env_for, wait_for

pytestmark = pytest.mark.timeout(120)


def lines() -> dict[str, str]:
    found = {}
    for line in (REPO / "Procfile").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, command = line.partition(":")
            found[name] = command.strip()
    return found


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    base = {k: v for k, v in env_for(settings).items() if not k.startswith("FLOWER_")}
    base["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), base.get("PATH", "")])
    return base


@contextlib.contextmanager
def running(command: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with log.open("wb") as out:
        process = subprocess.Popen(["sh", "-c", command], cwd=REPO, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


def answer(url: str, **kwargs: object) -> int | None:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=3, **kwargs).status_code  # type: ignore[arg-type]
    return None


def test_the_web_line_serves_with_the_shared_settings(env: dict[str, str],
                                                      tmp_path: Path) -> None:
    command = lines()["web"]
    assert "-c python:joelclaw.webserver" in command
    port = free_port()
    token = "procfile-token-0123456789"
    with running(command + " --no-control-socket",
                 {**env, "JOELCLAW_WEB_PORT": str(port), "JOELCLAW_WEB_HOST": "127.0.0.1",
                  "JOELCLAW_API_TOKEN": token},
                 tmp_path / "web.log"):
        wait_for(lambda: answer(f"http://127.0.0.1:{port}/health",
                                headers={"Authorization": f"Bearer {token}"}) == 503,
                 timeout=30, message=f"the web line answering (log {tmp_path / 'web.log'})")
        assert answer(f"http://127.0.0.1:{port}/health") == 401
    assert "gevent" in (tmp_path / "web.log").read_text()


def test_the_flower_line_generates_credentials_and_requires_them(
        env: dict[str, str], settings: Settings, tmp_path: Path) -> None:
    from joelclaw.credentials import flower_credentials

    port = free_port()
    url = f"http://127.0.0.1:{port}/api/workers"
    with running(lines()["flower"], {**env, "JOELCLAW_FLOWER_PORT": str(port),
                                     "FLOWER_UNAUTHENTICATED_API": "true"},
                 tmp_path / "flower.log"):
        wait_for(lambda: answer(f"http://127.0.0.1:{port}/healthcheck") == 200, timeout=40,
                 interval=0.5, message=f"flower (log {tmp_path / 'flower.log'})")
        assert answer(url) == 401
        assert answer(url, auth=flower_credentials(settings)) == 200


def test_the_flower_line_with_credentials_requires_them(env: dict[str, str],
                                                        tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/workers"
    chosen = {**env, "JOELCLAW_FLOWER_PORT": str(port), "JOELCLAW_FLOWER_USER": "owner",
              "JOELCLAW_FLOWER_PASSWORD": "pw-7y", "FLOWER_UNAUTHENTICATED_API": "true"}
    with running(lines()["flower"], chosen, tmp_path / "flower.log"):
        wait_for(lambda: answer(url, auth=("owner", "pw-7y")) == 200, timeout=40,
                 interval=0.5, message="flower with auth")
        assert answer(url) == 401


def test_the_flower_line_refuses_half_a_configuration(env: dict[str, str]) -> None:
    result = subprocess.run(["sh", "-c", lines()["flower"]], cwd=REPO, capture_output=True,
                            text=True, timeout=30,
                            env={**env, "JOELCLAW_FLOWER_USER": "owner",
                                 "JOELCLAW_FLOWER_PORT": str(free_port())})
    assert result.returncode == 78 and "JOELCLAW_FLOWER_PASSWORD" in result.stderr
