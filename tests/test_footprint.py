"""What keeps `joelclaw up`'s processes small (bench/footprint.py measures them): a worker's pool
processes inherit the objects built before the fork frozen out of the collector (a collection
would otherwise copy every page holding one), and importing `up`'s supervisor loads no Celery
(it preloads Celery only when it runs, to fork its roles from it: tests/test_zygote.py)."""

from __future__ import annotations

import json
import os
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


def _run_python(code: str, cwd: Path = REPO) -> list[object]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=cwd, check=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_up_shares_no_library_part_its_roles_never_run() -> None:
    # Given the supervisor imported (as `joelclaw up` does), then the libraries it preloads
    probe = ("import json, sys\n"
             "import joelclaw.supervisor.up\n"
             "from joelclaw.supervisor import deferred, zygote\n"
             "zygote.preload()\n"
             "absent = [m for m in ('rich', 'prompt_toolkit', 'pygments') "
             "if m not in sys.modules]\n"
             "import httpx\n"
             "from celery.bin.amqp import amqp\n"
             "repl = 'repl' in amqp.commands\n"
             "import celery.bin.base as cli\n"
             "coloured = '\\x1b[' in cli.highlight('{\"a\": 1}', cli.LEXER, cli.FORMATTER)\n"
             "real = deferred.real('httpx._main')\n"
             "print(json.dumps([absent, repl, coloured, callable(real.main), "
             "'rich' in sys.modules]))")
    absent, repl, coloured, main, rich = _run_python(probe)
    # Then neither httpx's command-line tool, Celery's REPL nor the colours of Celery's command
    # line were imported
    assert absent == ["rich", "prompt_toolkit", "pygments"]
    # And all are still there when run: `celery amqp repl`, the colours of `celery inspect` and
    # httpx's main load the real ones
    assert repl is True and coloured is True and main is True and rich is True


def test_forgetting_the_project_disconnects_what_it_connected_to_celery(tmp_path: Path) -> None:
    # Given a project module (outside the library paths) that connected a Celery signal
    (tmp_path / "fp_project_hooks.py").write_text(
        "from celery import signals\n"
        "@signals.worker_init.connect(weak=False)\n"
        "def on_init(**_):\n"
        "    pass\n"
        "class Hooks:\n"
        "    def on_ready(self, **_):\n"
        "        pass\n"
        "hooks = Hooks()\n"
        "signals.worker_ready.connect(hooks.on_ready, weak=False)\n")
    probe = ("import json, sys\n"
             f"sys.path.insert(0, {str(tmp_path)!r})\n"
             "from celery import signals\n"
             "def library_hook(**_): pass\n"
             "library_hook.__module__ = 'celery.library_side'\n"
             "signals.worker_init.connect(library_hook, weak=False)\n"
             "import fp_project_hooks\n"
             "before = [len(signals.worker_init.receivers), len(signals.worker_ready.receivers)]\n"
             "from joelclaw.supervisor.zygote import forget_project_modules\n"
             "forget_project_modules()\n"
             "after = [len(signals.worker_init.receivers), len(signals.worker_ready.receivers)]\n"
             "print(json.dumps([before, after, 'fp_project_hooks' in sys.modules]))")
    # When the project's modules are forgotten (a restart, a reload)
    before, after, still_loaded = _run_python(probe, cwd=tmp_path)
    # Then its receivers are gone with it, and a library's are kept
    assert before == [2, 1] and after == [1, 0] and still_loaded is False
