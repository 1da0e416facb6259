"""The durability self-check against real redis-servers: what a crash could lose (AOF,
appendfsync, snapshots), the eviction policy, reported in `/health`, `joelclaw status` and the
dashboard; a worker (and `up`) refuses an evicting Redis unless the risk is accepted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from joelclaw import durability, health
from joelclaw.cli import cli
from joelclaw.embedded import RedisServer
from joelclaw.runtime import Runtime
from joelclaw.supervisor import check_external_redis
from tests import support
from tests.conftest import make_settings
from tests.support import REPO, env_for, plain_redis, wait_for
from webhooks import create_app

pytestmark = pytest.mark.timeout(120)


def read(url: str) -> durability.Durability:
    client = redis.Redis.from_url(url)
    try:
        return durability.read(client)
    finally:
        client.close()


def test_the_embedded_redis_loses_at_most_a_second_or_two_and_never_evicts(tmp_path: Path):
    # read through the embedded Redis's ACL: INFO and CONFIG GET are allowed
    with RedisServer(tmp_path / "redis", binary=support.REDIS_SERVER) as server:
        found = read(server.url)
    assert found.aof is True and found.appendfsync == "everysec"
    assert found.policy == "noeviction" and not found.evicting
    assert found.loss_seconds == 2.0 and "~2 s" in found.loss_window
    assert found.warnings == () and found.replicas == 0
    assert found.summary().startswith("AOF on (everysec), maxmemory-policy noeviction")


@pytest.mark.parametrize(("options", "save", "aof", "seconds", "words"), [
    (("--appendonly", "yes", "--appendfsync", "always"), "", True, 0.0, "nothing acknowledged"),
    (("--appendonly", "yes", "--appendfsync", "no"), "", True, 30.0, "not flushed"),
    (("--appendonly", "no"), "900 1", False, None, "since the last snapshot"),
    (("--appendonly", "no"), "", False, None, "everything (no AOF, no snapshots)"),
])
def test_the_loss_window_follows_the_persistence_settings(tmp_path: Path, options, save, aof,
                                                          seconds, words):
    with plain_redis(tmp_path, *options) as url:
        # snapshot rules set at run time: 6.2 keeps none once `--save ""` was given
        redis.Redis.from_url(url).config_set("save", save)
        found = read(url)
    assert found.aof is aof and found.loss_seconds == seconds and words in found.loss_window
    assert any("AOF is off" in w for w in found.warnings) == (aof is False)


def test_a_redis_that_refuses_config_is_reported_from_info(tmp_path: Path):
    with plain_redis(tmp_path, "--appendonly", "yes") as url:
        client = redis.Redis.from_url(url)
        client.acl_setuser("limited", enabled=True, passwords=["+pw-limited-0123"],
                           keys=["*"], commands=["+@all", "-config"])
        limited = redis.Redis.from_url(url.replace("redis://", "redis://limited:pw-limited-0123@"))
        found = durability.read(limited)
    assert found.aof is True and found.appendfsync is None and found.policy is None
    assert found.loss_seconds is None and "unknown" in found.loss_window
    assert not found.evicting  # unknown, said as a warning, never guessed
    assert any("could not be read" in w for w in found.warnings)


def test_health_status_and_dashboard_report_it(tmp_path: Path, redis_url: str):
    settings = make_settings(tmp_path / "home", redis_url, web_open_on_loopback=True)
    rt = Runtime(settings)
    shown = health.check(rt)["components"]["redis"]["durability"]
    assert shown["aof"] is True and shown["policy"] == "noeviction"
    assert shown["loss_window"].startswith("at most the last ~2 s")
    env = {"JOELCLAW_REDIS_URL": redis_url, "JOELCLAW_HOME": str(tmp_path),
           "JOELCLAW_FUNCTION_MODULES": "tests.functions"}
    text = CliRunner().invoke(cli, ["status", "--text"], env=env)
    assert "durability" in text.output and "AOF on (everysec)" in text.output, text.output
    assert "a crash loses at most the last ~2 s" in text.output
    page = create_app(settings).test_client().get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-durability="ok"' in html and "a crash loses at most the last ~2 s" in html


def test_the_dashboard_flags_an_evicting_redis(tmp_path: Path):
    with plain_redis(tmp_path, "--maxmemory-policy", "allkeys-lru", "--appendonly", "no") as url:
        settings = make_settings(tmp_path / "home", url, web_open_on_loopback=True)
        html = create_app(settings).test_client().get("/").get_data(as_text=True)
        status = health.check(Runtime(settings))["components"]["redis"]
    assert 'data-durability="at-risk"' in html and "allkeys-lru" in html
    assert status["ok"] and status["durability"]["evicting"] is True


def _worker(settings, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "joelclaw.worker", "worker", "-c", "1",
         "-n", "refuse@%h", "--without-gossip", "--without-mingle", "-l", "info"],
        cwd=REPO, env=env_for(settings), stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)


def test_a_worker_refuses_an_evicting_redis_unless_the_risk_is_accepted(tmp_path: Path):
    with plain_redis(tmp_path, "--maxmemory-policy", "volatile-lru") as url:
        settings = make_settings(tmp_path / "home", url)
        refused = _worker(settings, tmp_path / "refused.log")
        assert refused.wait(60) == durability.EX_CONFIG
        said = (tmp_path / "refused.log").read_text()
        assert "refusing to start: Redis maxmemory-policy is 'volatile-lru'" in said
        assert "maxmemory-policy noeviction" in said and "JOELCLAW_REDIS_ACCEPT_EVICTION" in said
        assert "Traceback" not in said

        accepted = support.WorkerProcess(settings.with_overrides(redis_accept_eviction=True),
                                         tmp_path / "accepted.log", name="accepted",
                                         queues="joelclaw", concurrency=1)
        try:
            accepted.wait_ready()
            wait_for(lambda: "maxmemory-policy is 'volatile-lru'" in accepted.output(), 10,
                     message="the risk still logged")
        finally:
            accepted.stop()


def test_up_refuses_an_evicting_external_redis(tmp_path: Path):
    with plain_redis(tmp_path, "--maxmemory-policy", "allkeys-lru") as url:
        said: list[str] = []
        with pytest.raises(durability.EvictingRedis, match="allkeys-lru"):
            check_external_redis(url, said.append)
        check_external_redis(url, said.append, accept_eviction=True)
        env = env_for(make_settings(tmp_path / "home", url))
        code = ("from joelclaw.supervisor import up; "
                "raise SystemExit(up(flower=False, web=False, typesense=False))")
        done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=60)
    assert any("allkeys-lru" in line for line in said)
    assert done.returncode == durability.EX_CONFIG, done.stderr
    assert "refusing to start" in done.stderr and "Traceback" not in done.stderr
