"""The CLI answers at once (bench/cli_start.py measures how fast): importing it loads nothing
heavy, `--help` needs neither Redis nor pydantic, and a read command loads Redis and the run
store but not Celery, the extensions or the OpenTelemetry SDK (redis-py would load it at import
time for metrics the CLI never exports). What it hides stays importable afterwards."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.test_cli import cli_env  # noqa: F401 (fixture)

HEAVY = ("redis", "celery", "kombu", "pydantic", "pydantic_settings", "httpx", "joelclaw.runtime",
         "joelclaw.gateway.plugin", "joelclaw.memory.plugin", "joelclaw.telemetry.plugin",
         "opentelemetry.sdk.metrics", "typesense", "croniter")


def loaded_after(code: str, env: dict[str, str] | None = None) -> dict[str, bool]:
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, check=False, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_and_its_help_load_nothing_heavy() -> None:
    assert not any(loaded_after("import joelclaw.cli").values())
    help_run = ("from joelclaw.cli import cli\n"
                "cli.main(args=['--help'], prog_name='joelclaw', standalone_mode=False)")
    assert not any(loaded_after(help_run).values())


def test_a_read_command_loads_only_what_it_reads_with(cli_env: dict[str, str]) -> None:  # noqa: F811
    import os

    env = {**os.environ, **cli_env}
    run = ("from joelclaw.cli import cli\n"
           "cli.main(args=['runs', '--json'], prog_name='joelclaw', standalone_mode=False)")
    loaded = loaded_after(run, env)
    assert loaded["redis"] and loaded["joelclaw.runtime"] and loaded["pydantic"]
    for heavy in ("celery", "kombu", "httpx", "joelclaw.gateway.plugin",
                  "joelclaw.memory.plugin", "joelclaw.telemetry.plugin",
                  "opentelemetry.sdk.metrics", "croniter"):
        assert not loaded[heavy], heavy


def test_what_the_quick_redis_import_hides_stays_importable() -> None:
    code = ("from joelclaw.cli.app import quick_redis_import\n"
            "with quick_redis_import():\n    pass\n"
            "import opentelemetry.sdk.metrics\n")
    loaded = loaded_after(code)
    assert loaded["redis"] and loaded["opentelemetry.sdk.metrics"]


def test_the_command_table_names_every_command_and_its_modules() -> None:
    from joelclaw.cli import COMMANDS, cli

    cli.load_all()
    assert set(cli.commands) == set(COMMANDS)
    for name, modules in COMMANDS.items():
        command = cli.commands[name]
        defined = {command.callback.__module__} | {
            sub.callback.__module__ for sub in getattr(command, "commands", {}).values()}
        assert defined == {f"joelclaw.cli.{m}" for m in modules}, name
