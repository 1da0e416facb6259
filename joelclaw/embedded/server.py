"""What both embedded servers share: start and wait until ready, stop, and the log's tail.

A server subclass says how to run (`argv`, `env`), when it is ready (`ping`) and where it logs;
this base starts it with those, turns an early exit or a timeout into a ConfigError that quotes
its log, and stops it with SIGTERM (Redis flushes its append-only file) before SIGKILL.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import IO, ClassVar

from joelclaw.errors import ConfigError


class EmbeddedServer:
    """Mixed into the dataclasses RedisServer and TypesenseServer."""

    NAME: ClassVar[str]  # the binary's name, for messages
    START_TIMEOUT: ClassVar[float]
    STOP_TIMEOUT: ClassVar[float]
    QUIET: ClassVar[bool] = False  # its own log file has everything: drop stdout and stderr
    process: subprocess.Popen[bytes] | None
    port: int | None

    @property
    def url(self) -> str:
        raise NotImplementedError

    @property
    def log_file(self) -> Path:
        raise NotImplementedError

    def prepare(self) -> str:
        raise NotImplementedError

    def argv(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        """The server's environment; None inherits ours."""
        return None

    def ping(self, timeout: float = 0.5) -> bool:
        raise NotImplementedError

    def log_tail(self, size: int = 800) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-size:].strip()
        except OSError:
            return ""

    def start(self, timeout: float | None = None) -> str:
        """Start the server and return its URL once `ping` answers."""
        self.prepare()
        out: int | IO[bytes] | None = subprocess.DEVNULL if self.QUIET else None
        self.process = subprocess.Popen(self.argv(), env=self.env(), stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=out)
        deadline = time.monotonic() + (timeout or self.START_TIMEOUT)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"embedded {self.NAME} exited at start: {self.log_tail()}")
            if self.ping():
                return self.url
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"embedded {self.NAME} did not become ready on port {self.port}")

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        wait = timeout or self.STOP_TIMEOUT
        self.process.terminate()
        try:
            self.process.wait(wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(wait)

    def __enter__(self) -> EmbeddedServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
