"""The backup functions in a real worker against real Redis and Typesense: a Redis dump that a
fresh redis-server loads, a Typesense snapshot directory, rotation to the newest N (and never a
file the system did not write), skips that say why, and time-zone crons."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from joelclaw.backups import layout, redis_dump, redis_stream, rotation
from joelclaw.embedded import TypesenseServer, free_port
from joelclaw.embedded.redis import find_redis_binary
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.runtime import Runtime
from tests import support
from tests.conftest import make_settings
from tests.flow_helpers import all_finished
from tests.support import REPO, WorkerProcess, plain_redis, wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def backup_dir(tmp_path: Path) -> Path:
    return tmp_path / "backups"


@pytest.fixture
def start(worker_factory: Callable[..., WorkerProcess], tmp_path: Path, redis_url: str,
          typesense: TypesenseServer, backup_dir: Path) -> Callable[..., Runtime]:
    def go(**overrides: Any) -> Runtime:
        values: dict[str, Any] = {"backup_dir": backup_dir, "backup_keep": 2,
                                  "typesense_url": typesense.url,
                                  "typesense_api_key": typesense.api_key}
        values.update(overrides)
        settings = make_settings(tmp_path / "home", redis_url, **values)
        worker_factory(settings_override=settings)
        return Runtime(settings)

    return go


def backup(rt: Runtime, target: str) -> list[Any]:
    sent = rt.send(Event(name="system/backup.requested", data={"target": target}))[0]
    return all_finished(rt, sent.runs, 60)


@pytest.fixture
def loaded_from(tmp_path: Path) -> Iterator[Callable[[Path], redis.Redis]]:
    """A fresh redis-server (no AOF) started on a copy of a dump: proof that the dump loads."""
    started: list[subprocess.Popen[bytes]] = []

    def load(dump: Path) -> redis.Redis:
        folder = tmp_path / f"restore{len(started)}"
        folder.mkdir()
        (folder / "dump.rdb").write_bytes(dump.read_bytes())
        port = free_port()
        started.append(subprocess.Popen(
            [find_redis_binary(support.REDIS_SERVER), "--port", str(port), "--bind", "127.0.0.1",
             "--dir",
             str(folder), "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = redis.Redis(port=port)
        wait_for(lambda: _pings(client), 15, message="the restored redis-server")
        return client

    yield load
    for process in started:
        process.terminate()
        process.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def test_a_redis_backup_is_a_dump_that_loads_and_rotation_keeps_the_newest(
    start: Callable[..., Runtime], backup_dir: Path, redis_url: str,
    loaded_from: Callable[[Path], redis.Redis],
) -> None:
    folder = backup_dir / "redis"
    folder.mkdir(parents=True)
    for old in ("dump-20200101-030000.rdb", "dump-20210101-030000.rdb",
                "dump-20220101-030000.rdb"):
        (folder / old).write_bytes(b"REDIS0009 old")
    (folder / "keep-me.rdb").write_bytes(b"not ours")
    redis.Redis.from_url(redis_url).set("jc:test:backup-marker", "espresso")
    rt = start()
    [run] = backup(rt, "redis")
    assert run.status == "completed", run.error
    out = run.output
    assert out["status"] == "completed" and out["bytes"] > 0 and out["via"] == "copy"
    dump = Path(out["path"])
    assert dump.parent == folder and dump.read_bytes()[:5] == b"REDIS"
    # owner-only: the dump holds every event in clear
    assert (dump.stat().st_mode & 0o077) == 0 and (folder.stat().st_mode & 0o777) == 0o700
    assert out["kept"] == ["dump-20220101-030000.rdb", dump.name]
    assert out["removed"] == ["dump-20200101-030000.rdb", "dump-20210101-030000.rdb"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["dump-20220101-030000.rdb", dump.name, "keep-me.rdb"])
    assert loaded_from(dump).get("jc:test:backup-marker") == b"espresso"
    steps = [s.key for s in rt.runs.steps(run.id)]
    assert steps == ["prepare-redis-backup-dir", "trigger-redis-bgsave", "wait-for-bgsave",
                     "copy-redis-rdb", "rotate-redis-backups", "emit-completed"]
    [event] = list_events(rt.redis, name="system/backup.completed")
    assert event["event"]["data"]["target"] == "redis"
    assert event["event"]["data"]["path"] == str(dump)


def test_a_redis_on_another_host_is_streamed_with_redis_cli_and_loads(
    start: Callable[..., Runtime], backup_dir: Path, redis_url: str,
    loaded_from: Callable[[Path], redis.Redis],
) -> None:
    redis.Redis.from_url(redis_url).set("jc:test:streamed", "ristretto")
    rt = start(backup_redis_mode="stream")
    [run] = backup(rt, "redis")
    assert run.status == "completed", run.error
    assert run.output["via"] == "redis-cli --rdb" and run.output["bytes"] > 0
    assert [s.key for s in rt.runs.steps(run.id)] == [
        "prepare-redis-backup-dir", "stream-redis-rdb", "rotate-redis-backups", "emit-completed"]
    assert loaded_from(Path(run.output["path"])).get("jc:test:streamed") == b"ristretto"


def test_a_server_that_will_not_stream_is_a_clear_skip_without_its_password(
        tmp_path: Path) -> None:
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(layout.BackupSkipped, match="would not stream its dump") as refused:
        redis_stream.stream(redis_stream.find_cli(None), url, tmp_path / "x.rdb", 30)
    assert "hunter2" not in refused.value.reason and not list(tmp_path.iterdir())
    assert redis_stream.arguments("rediss://me:pw@db.example:6380/2") == (
        ["-h", "db.example", "-p", "6380", "--user", "me", "--tls"], {"REDISCLI_AUTH": "pw"})


def test_a_typesense_snapshot_lands_in_the_backup_folder_and_rotates(
    start: Callable[..., Runtime], backup_dir: Path, typesense: TypesenseServer,
) -> None:
    from joelclaw.integrations.typesense import SearchClient

    search = SearchClient(typesense.url, typesense.api_key or "")
    search.ensure_collection({"name": "beans", "fields": [{"name": "n", "type": "string"}]})
    search.upsert("beans", {"id": "1", "n": "yirgacheffe"})
    folder = backup_dir / "typesense"
    (folder / "snapshot-20200101-030000").mkdir(parents=True)
    (folder / "snapshot-20210101-030000").mkdir()
    rt = start(backup_keep=1)
    [run] = backup(rt, "typesense")
    assert run.status == "completed", run.error
    out = run.output
    snapshot = Path(out["path"])
    assert out["status"] == "completed" and snapshot.is_dir() and out["bytes"] > 0
    assert any(p.is_file() for p in snapshot.rglob("*")), "the server wrote its snapshot files"
    assert out["kept"] == [snapshot.name]
    assert out["removed"] == ["snapshot-20200101-030000", "snapshot-20210101-030000"]
    assert [p.name for p in folder.iterdir()] == [snapshot.name]


def test_target_all_runs_both_and_without_a_folder_both_skip_saying_why(
    start: Callable[..., Runtime],
) -> None:
    rt = start(backup_dir=None)
    runs = backup(rt, "all")
    assert sorted(r.function for r in runs) == ["system-backup-redis", "system-backup-typesense"]
    for run in runs:
        assert run.status == "completed"
        assert run.output == {"status": "skipped",
                              "reason": "no backup folder configured: set JOELCLAW_BACKUP_DIR"}
    events = list_events(rt.redis, name="system/backup.completed")
    assert sorted(e["event"]["data"]["target"] for e in events) == ["redis", "typesense"]
    assert {e["event"]["data"]["status"] for e in events} == {"skipped"}
    assert len(backup(rt, "typesense")) == 1, "a target runs only its own function"


def test_without_typesense_the_snapshot_skips_saying_why(start: Callable[..., Runtime]) -> None:
    rt = start(typesense_url=None, typesense_api_key=None)
    [run] = backup(rt, "typesense")
    assert run.output["status"] == "skipped" and "no Typesense configured" in run.output["reason"]


def test_a_dump_that_is_not_on_this_machine_is_a_clear_skip(tmp_path: Path) -> None:
    # an external Redis whose dump is named, as far as this machine can tell, elsewhere
    with plain_redis(tmp_path, "--dbfilename", "written-elsewhere.rdb") as url:
        client = redis.Redis.from_url(url)
        found = redis_dump.locate(client, int(client.lastsave().timestamp()))
    assert isinstance(found, str) and "is not on this machine" in found


def test_rotation_keeps_the_newest_n_of_its_own_names_only(tmp_path: Path) -> None:
    for name in ("dump-20240101-000000.rdb", "dump-20230101-000000.rdb", "dump-x.rdb",
                 "dump-20250101-000000.rdb", "other-20200101-000000.rdb"):
        (tmp_path / name).write_text("x")
    done = rotation.rotate(tmp_path, "dump-", ".rdb", 2)
    assert done.kept == ["dump-20240101-000000.rdb", "dump-20250101-000000.rdb"]
    assert done.removed == ["dump-20230101-000000.rdb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "dump-20240101-000000.rdb", "dump-20250101-000000.rdb", "dump-x.rdb",
        "other-20200101-000000.rdb"]


def test_stamps_are_local_time_in_the_configured_zone() -> None:
    from datetime import UTC, datetime

    noon_utc = datetime(2026, 7, 1, 12, 0, 0, tzinfo=UTC)
    assert layout.stamp("America/Los_Angeles", noon_utc) == "20260701-050000"
    assert layout.stamp("UTC", noon_utc) == "20260701-120000"


def test_the_crons_run_in_the_owners_time_zone_and_are_settings() -> None:
    """Read from the settings when a runtime's registry loads the module, not at import."""
    code = ("import json; from joelclaw.bus.functions import Registry; "
            "from joelclaw.config import load_settings; "
            "r = Registry.from_modules(['tasks.backups'], load_settings()); "
            "print(json.dumps([[t.cron, t.timezone] for f in "
            "('system-backup-redis', 'system-backup-typesense') for t in r.get(f).crons]))")
    env = {"PATH": "/usr/bin:/bin", "JOELCLAW_TIMEZONE": "America/Los_Angeles",
           "JOELCLAW_BACKUP_REDIS_CRON": "45 2 * * *", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         cwd=REPO, timeout=60, check=True)
    assert json.loads(out.stdout) == [["45 2 * * *", "America/Los_Angeles"],
                                      ["0 3 * * *", "America/Los_Angeles"]]
