"""What keeps `joelclaw up`'s processes small (bench/footprint.py measures them): a worker's pool
processes inherit the objects built before the fork frozen out of the collector (a collection
would otherwise copy every page holding one), and importing `up`'s supervisor loads no Celery
(it preloads Celery only when it runs, to fork its roles from it: tests/test_zygote.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.support import REPO, wait_for


def test_pool_processes_start_with_the_imported_objects_frozen(tmp_path: Path, redis_url: str,
                                                               worker_factory) -> None:
    settings = make_settings(tmp_path / "home", redis_url,
                             function_modules=["tests.footprint_functions"])
    worker = worker_factory(concurrency=1, settings_override=settings)
    rt = Runtime(settings)
    [sent] = rt.send(Event(name="test/pool.frozen"))
    [run_id] = sent.runs
    run = wait_for(lambda: (r := rt.runs.get(run_id)) and r.status == "completed" and r,
                   timeout=60, message="the run to complete")
    pool = [child.pid for child in worker.children()]
    assert run.output["pid"] in pool  # ran in a forked pool process, not the main one
    assert run.output["frozen"] > 10_000  # the modules, the app and the registry


def test_the_supervisor_of_up_does_not_import_celery() -> None:
    probe = ("import json, sys\n"
             "import joelclaw.cli.app, joelclaw.supervisor.up\n"
             "print(json.dumps(sorted(m for m in ('celery', 'kombu', 'billiard') "
             "if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, check=True, timeout=60)
    assert json.loads(done.stdout) == []
