"""A real gunicorn serving `webhooks:create_app()` on a free loopback port, for end-to-end tests,
with the worker settings `joelclaw up` uses (`joelclaw/webserver.py`).

Started in its own process group with the settings passed through the environment (as `joelclaw
up` does), and killed by group in teardown so no gunicorn worker outlives the test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from joelclaw.config import Settings
from joelclaw.embedded import free_port
from joelclaw.supervisor.up import WEB_CONFIG
from tests.support import REPO, env_for, wait_for


class Gunicorn:
    def __init__(self, settings: Settings, log_path: Path, workers: int = 2):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.log = log_path.open("ab")
        command = [sys.executable, "-m", "gunicorn", "-c", WEB_CONFIG, "-w", str(workers),
                   "-b", f"127.0.0.1:{self.port}", "--no-control-socket",
                   "webhooks:create_app()"]
        self.process = subprocess.Popen(command, cwd=REPO, env=env_for(settings),
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait_ready(self, timeout: float = 30.0) -> Gunicorn:
        def ready() -> bool:
            if self.process.poll() is not None:
                return True
            try:  # any JSON answer: it serves (the token may be required)
                httpx.get(f"{self.url}/webhooks", timeout=2).json()
                return True
            except (httpx.HTTPError, ValueError):
                return False

        wait_for(ready, timeout, message=f"gunicorn ready (log {self.log_path})")
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
        return self

    def stop(self) -> None:
        """Kill the whole group at once: the test is over, and a graceful stop would give open
        connections gunicorn's graceful timeout (seconds per test, nothing asserted on it)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")
