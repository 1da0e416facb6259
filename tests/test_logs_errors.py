"""`joelclaw logs errors` over the logs a supervised worker really wrote (the supervisor `up`
uses, a real Celery worker): every failed step and failed run is there, a clean stop is not."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from joelclaw.cli import cli
from joelclaw.supervisor.logfiles import LogFiles
from joelclaw.supervisor.processes import Output, Supervisor
from tests.support import REPO, env_for, wait_for
from tests.test_bus_steps import finished, start

pytestmark = pytest.mark.timeout(120)


def test_errors_list_step_and_run_failures_and_not_clean_stops(runtime, settings,
                                                               tmp_path: Path) -> None:
    home = settings.home_dir
    supervisor = Supervisor(Output(stream=(tmp_path / "up.out").open("w"),
                                   files=LogFiles(home / "logs")))
    argv = [sys.executable, "-m", "celery", "-A", "joelclaw.worker", "worker", "-Q", "joelclaw",
            "-c", "1", "-n", "worker@%h", "-l", "info", "--without-gossip", "--without-mingle"]
    supervisor.add("worker", argv, env_for(settings), cwd=str(REPO))
    supervisor.start()
    try:
        log = home / "logs" / "worker.log"
        wait_for(lambda: log.exists() and " ready." in log.read_text(), 60,
                 message="the supervised worker ready")
        failed = [finished(runtime, start(runtime, "test/nonretriable")) for _ in range(2)]
        assert finished(runtime, start(runtime, "test/steps")).status == "completed"
        assert [r.status for r in failed] == ["failed", "failed"]
        wait_for(lambda: all(r.id in log.read_text() for r in failed), 20,
                 message="the failures logged")
    finally:
        supervisor.stop()
    assert "worker stopped (exited with code 0)" in (home / "logs" / "up.log").read_text()

    env = {"JOELCLAW_HOME": str(home), "JOELCLAW_REDIS_URL": settings.redis_url}
    result = CliRunner().invoke(cli, ["logs", "errors", "-n", "200", "--json"], env=env)
    assert result.exit_code == 0, result.output
    lines = [e["text"] for e in json.loads(result.stdout)["result"]["lines"]]
    for run in failed:
        assert any(run.id in t and "step 'boom' failed for good" in t for t in lines), lines
        assert any(run.id in t and "RunFailed" in t for t in lines), lines
    assert not any("stopped (exited with code 0)" in t for t in lines)
