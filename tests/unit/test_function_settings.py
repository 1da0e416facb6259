"""A function's cron or flow option may come from the settings: read when a runtime loads it.

Importing the module that declares it reads nothing (no environment, no `.env`); each runtime's
registry reads the options from its own settings, and the defaults are checked at declaration,
so a typo fails at import as it would for a literal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from joelclaw.bus.functions import Registry, cron, function
from joelclaw.config import Settings
from joelclaw.errors import FunctionDefinitionError

ROOT = Path(__file__).resolve().parents[2]


@function("settings-read-test", concurrency=lambda s: s.docs.ingest_concurrency,
          triggers=[cron(lambda s: s.backups.redis_cron, timezone=lambda s: s.timezone)])
def _reads_settings(ctx: object) -> None:
    """Reads its cron, time zone and concurrency from the settings."""


def test_each_registry_reads_the_options_from_its_own_settings() -> None:
    paris = Settings(_env_file=None, backup_redis_cron="5 4 * * *", timezone="Europe/Paris",
                     docs_ingest_concurrency=3)
    tokyo = paris.with_overrides(backup_redis_cron="0 1 * * *", timezone="Asia/Tokyo",
                                 docs_ingest_concurrency=1)
    for settings, expected in ((paris, ("5 4 * * *", "Europe/Paris", 3)),
                               (tokyo, ("0 1 * * *", "Asia/Tokyo", 1))):
        fn = Registry([_reads_settings], settings=settings).get("settings-read-test")
        assert fn is not None and fn.flow is not None
        [trig] = fn.crons
        assert (trig.cron, trig.timezone, fn.flow.concurrency[0].limit) == expected


def test_a_bad_default_fails_at_declaration() -> None:
    with pytest.raises(FunctionDefinitionError, match="invalid cron expression"):
        cron(lambda s: "every morning")


def test_importing_the_task_modules_reads_no_setting() -> None:
    """Settings read from the environment (or `.env`) while the modules import are counted;
    a broken setting in the environment does not stop the import either."""
    script = textwrap.dedent("""
        import importlib
        from pydantic_settings import BaseSettings
        from joelclaw.application import installed

        reads = []
        build = BaseSettings._settings_build_values

        def counted(self, *args, **kwargs):
            reads.append(type(self).__name__)
            return build(self, *args, **kwargs)

        modules = installed().function_modules
        BaseSettings._settings_build_values = counted
        for name in modules:
            importlib.import_module(name)
        print(len(modules), reads)
    """)
    env = {**os.environ, "JOELCLAW_BACKUP_REDIS_CRON": "not a cron"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count, reads = done.stdout.split(" ", 1)
    assert int(count) >= 5 and reads.strip() == "[]"
