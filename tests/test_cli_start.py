"""The CLI answers at once (bench/cli_start.py measures how fast): importing it loads nothing
heavy, `--help` needs neither Redis nor pydantic, and a read command (`runs`, `run <id>`,
`events`, `event <id>`, `explain <id>`) reads a plain redis:// URL with the small client
(joelclaw.redisconn.resp) and the core settings alone: neither redis-py (which imports asyncio) nor
pydantic-settings, and not Celery, the function modules or the registry, the extensions, the
search engine's client or the OpenTelemetry SDK. A URL the small client does not take is read
with redis-py, which is imported without the OpenTelemetry SDK (it would load it for metrics
the CLI never exports); what that hides stays importable afterwards.

The commands that also show the function registry (`status`, `queues`, `functions`,
`schedule`) import the function modules, and declaring a function loads no client it calls:
they too read Redis with the small client and build no Celery app, and they answer what a full
session (Settings, redis-py, the Celery app's own queue names and beat schedule) answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime
from tests.test_cli import cli_env  # noqa: F401 (fixture)

HEAVY = ("redis", "celery", "kombu", "pydantic", "pydantic_settings", "httpx", "joelclaw.runtime",
         "joelclaw.gateway.plugin", "joelclaw.memory.plugin", "joelclaw.telemetry.plugin",
         "opentelemetry.sdk.metrics", "typesense", "croniter")
# What no read command may load: the engine's Celery side, the function modules and what
# declaring them costs (the registry, every payload model, cron parsing), the extensions, the
# HTTP and search clients, process inspection. A read command reads Redis and prints.
NOT_FOR_READING = ("redis", "pydantic_settings", "joelclaw.config.settings", "celery", "kombu",
                   "croniter", "httpx", "typesense", "psutil",
                   "joelclaw.bus.functions.registry", "joelclaw.events.registry",
                   "joelclaw.events.payloads", "joelclaw.health", "joelclaw.bus.celery",
                   "joelclaw.gateway.plugin", "joelclaw.memory.plugin",
                   "joelclaw.telemetry.plugin", "opentelemetry.sdk.metrics", "tests.functions",
                   "tasks")


def loaded_after(code: str, env: dict[str, str] | None = None,
                 modules: tuple[str, ...] = HEAVY) -> dict[str, bool]:
    probe = (f"import sys\n{code}\nimport json\n"
             f"print(json.dumps({{m: m in sys.modules for m in {modules!r}}}))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, check=False, timeout=60)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_cli_and_its_help_load_nothing_heavy() -> None:
    assert not any(loaded_after("import joelclaw.cli").values())
    help_run = ("from joelclaw.cli import cli\n"
                "cli.main(args=['--help'], prog_name='joelclaw', standalone_mode=False)")
    assert not any(loaded_after(help_run).values())


def test_a_read_command_loads_only_what_it_reads_with(cli_env: dict[str, str]) -> None:  # noqa: F811
    env = {**os.environ, **cli_env}
    run = ("from joelclaw.cli import cli\n"
           "cli.main(args=['runs', '--json'], prog_name='joelclaw', standalone_mode=False)")
    loaded = loaded_after(run, env, (*HEAVY, "joelclaw.redisconn.resp"))
    assert loaded["joelclaw.redisconn.resp"] and loaded["joelclaw.runtime"] and loaded["pydantic"]
    for heavy in ("redis", "pydantic_settings", "celery", "kombu", "httpx",
                  "joelclaw.gateway.plugin", "joelclaw.memory.plugin",
                  "joelclaw.telemetry.plugin", "opentelemetry.sdk.metrics", "croniter"):
        assert not loaded[heavy], heavy


def test_a_url_the_small_client_does_not_take_is_read_with_redis_py(
        cli_env: dict[str, str], stored: dict[str, str]) -> None:  # noqa: F811
    """Options in the URL (as TLS or Sentinel would): redis-py, imported the quick way, reads
    the same run."""
    url = cli_env["JOELCLAW_REDIS_URL"] + "?socket_keepalive=true"
    env = {**os.environ, **cli_env, "JOELCLAW_REDIS_URL": url}
    code = ("from joelclaw.cli import cli\n"
            f"assert cli.main(args=['run', {stored['run']!r}, '--json'], prog_name='joelclaw', "
            "standalone_mode=False) == 0")
    loaded = loaded_after(code, env, ("redis", "opentelemetry.sdk.metrics", "celery"))
    assert loaded == {"redis": True, "opentelemetry.sdk.metrics": False, "celery": False}


@pytest.fixture
def stored(cli_env: dict[str, str]) -> dict[str, str]:  # noqa: F811
    """A run (queued: no worker) and the event that started it, to read back."""
    rt = Runtime(Settings(_env_file=None, redis_url=cli_env["JOELCLAW_REDIS_URL"],  # type: ignore[call-arg]
                          home=cli_env["JOELCLAW_HOME"], function_modules=["tests.functions"]))
    sent = rt.send(Event(name="test/steps", data={"n": 1}))[0]
    return {"run": sent.runs[0], "event": sent.id}


@pytest.mark.parametrize("command", ["runs", "run", "events", "event", "explain"])
def test_each_read_command_answers_without_the_engine(
        command: str, cli_env: dict[str, str], stored: dict[str, str]) -> None:  # noqa: F811
    """`run <id>` of a plain run included: only a run with a task or canvas step looks at
    Celery's canvas state."""
    ids = {"run": stored["run"], "explain": stored["run"], "event": stored["event"]}
    argv = [command] + ([ids[command]] if command in ids else []) + ["--json"]
    code = ("from joelclaw.cli import cli\n"
            f"assert cli.main(args={argv!r}, prog_name='joelclaw', standalone_mode=False) == 0")
    loaded = loaded_after(code, {**os.environ, **cli_env},
                          ("joelclaw.redisconn.resp", *NOT_FOR_READING))
    assert loaded.pop("joelclaw.redisconn.resp")  # it did read, with the small client
    assert [name for name, present in loaded.items() if present] == []


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


def test_a_group_finds_every_subcommand_when_one_of_its_modules_was_imported_first() -> None:
    """A group whose subcommands come from several modules (gateway: events, test, restart in
    one, diagnose in another) gets them all, even when code imported one of those modules
    first, which registers the group itself (in a fresh process)."""
    probe = ("import click, joelclaw.cli.gateway_ops\n"
             "from joelclaw.cli import cli\n"
             "ctx = click.Context(cli)\n"
             "group = cli.get_command(ctx, 'gateway')\n"
             "print(sorted(group.commands))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "'diagnose'" in done.stdout and "'restart'" in done.stdout


# ---- the commands that read the registry: status, queues, functions, schedule ----------------
#
# They import the function modules (the registry is what they show), but declaring a function
# loads no client it calls: not Celery or kombu (no app is built: the queue names, transport
# options and beat entries are computed as make_celery computes them), not redis-py (Redis is
# read with the small client), not httpx, the search engine's client, psutil or the
# OpenTelemetry SDK, nor the extensions that would add Celery bootsteps; and the settings the
# functions read are read concern by concern (joelclaw.config.quick), without pydantic-settings
# or the whole `Settings` model; and the function modules import the domain code their
# functions call (memory, backups, docs, agents, media, the checks and triage, the digest, the
# system log, the notifier) when they run.

NOT_FOR_THE_REGISTRY = ("redis", "celery", "kombu", "httpx", "typesense", "psutil",
                        "opentelemetry.sdk.metrics", "joelclaw.bus.celery.app",
                        "joelclaw.gateway.plugin", "joelclaw.telemetry.plugin", "tests.support",
                        "pydantic_settings", "joelclaw.config.settings",
                        # what the functions call, imported by each when it runs
                        "joelclaw.memory.service", "joelclaw.agents.dispatch",
                        "joelclaw.backups.snapshot", "joelclaw.docs.extract",
                        "joelclaw.media.understand", "joelclaw.telemetry.triage",
                        "joelclaw.gateway.notify", "joelclaw.checks.calendar",
                        "joelclaw.checks.clients", "joelclaw.checks.digest",
                        "joelclaw.checks.system_health", "joelclaw.media.kinds",
                        "joelclaw.events.payloads.media", "joelclaw.gateway.budget_answer",
                        "joelclaw.telemetry.systemlog", "joelclaw.cache")
# (joelclaw.memory.plugin may be imported, for a name a memory module shares with it: it
# imports nothing heavy, and nothing installs it.)
REGISTRY_READERS = ["status", "queues", "functions", "schedule"]


@pytest.mark.parametrize("command", REGISTRY_READERS)
def test_a_command_reading_the_registry_loads_no_engine_or_client(
        command: str, cli_env: dict[str, str], stored: dict[str, str]) -> None:  # noqa: F811
    code = ("from joelclaw.cli import cli\n"
            f"assert cli.main(args=[{command!r}, '--json'], prog_name='joelclaw', "
            "standalone_mode=False) == 0")
    loaded = loaded_after(code, {**os.environ, **cli_env},
                          ("joelclaw.redisconn.resp", "joelclaw.bus.functions.registry",
                           "tests.functions", *NOT_FOR_THE_REGISTRY))
    assert loaded.pop("joelclaw.redisconn.resp")  # it read Redis, with the small client
    assert loaded.pop("joelclaw.bus.functions.registry") and loaded.pop("tests.functions")
    assert [name for name, present in loaded.items() if present] == []


@pytest.mark.parametrize("command", ["status", "queues", "functions"])
def test_only_schedule_loads_the_cron_parser(
        command: str, cli_env: dict[str, str], stored: dict[str, str]) -> None:  # noqa: F811
    """Declaring a plain cron checks it without croniter (joelclaw.durations.crontab), and
    `functions` computes no next fire: only `schedule`, which says when each cron fires next,
    parses them."""
    code = ("from joelclaw.cli import cli\n"
            f"assert cli.main(args=[{command!r}, '--json'], prog_name='joelclaw', "
            "standalone_mode=False) == 0")
    loaded = loaded_after(code, {**os.environ, **cli_env},
                          ("tests.functions", "croniter", "dateutil"))
    assert loaded == {"tests.functions": True, "croniter": False, "dateutil": False}


VOLATILE = frozenset({"latency_ms", "checked_at", "age_s", "last_tick", "until", "seconds",
                      "since", "next_local", "next_utc", "next_epoch", "next_fire",
                      "next_fire_local"})


def _stable(value: object) -> object:
    """A result without what changes from one reading to the next (latencies, clocks)."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


@pytest.mark.parametrize("command", REGISTRY_READERS)
def test_the_quick_reading_answers_what_the_full_one_does(
        command: str, cli_env: dict[str, str], stored: dict[str, str],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same handler, once in a read session (core settings, the small client) and once in
    a full one (Settings, redis-py): the same result."""
    from joelclaw.cli import cli
    from joelclaw.cli.app import Session
    from joelclaw.cli.output import Output

    for name, value in cli_env.items():
        monkeypatch.setenv(name, value)
    handler = cli.get_command(None, command).callback.__wrapped__  # type: ignore[arg-type,union-attr]
    params = {"next_count": 5} if command == "schedule" else {}
    results = []
    for reads in (True, False):
        session = Session(Output(f"joelclaw {command}", json_mode=True), reads=reads)
        results.append(handler(session, **params).result)
        if reads:
            assert type(session.runtime().redis).__name__ == "QuickRedis"
    if command == "schedule":  # the same crons, in fire order at either reading
        for result in results:
            result["crons"].sort(key=lambda row: row["entry"])
    assert _stable(results[0]) == _stable(results[1])


def test_queue_names_and_options_are_those_of_the_celery_app(cli_env: dict[str, str]) -> None:  # noqa: F811
    """What `queues` and `status` compute without the app is what the app declares."""
    from joelclaw.bus.celery import queues

    rt = Runtime(Settings(_env_file=None, redis_url=cli_env["JOELCLAW_REDIS_URL"],  # type: ignore[call-arg]
                          home=cli_env["JOELCLAW_HOME"], function_modules=["tests.functions"],
                          unacked_restore_seconds=60))
    assert queues.queue_names(rt) == sorted(q.name for q in rt.celery.conf.task_queues)
    assert queues.broker_options(rt) == dict(rt.celery.conf.broker_transport_options)


def test_the_crons_listed_are_beats_entries(cli_env: dict[str, str]) -> None:  # noqa: F811
    """`schedule`'s crons, read from the registry, are the Celery app's beat schedule."""
    from datetime import UTC, datetime

    from joelclaw.insight.schedule import cron_entry, crons

    rt = Runtime(Settings(_env_file=None, redis_url=cli_env["JOELCLAW_REDIS_URL"],  # type: ignore[call-arg]
                          home=cli_env["JOELCLAW_HOME"], function_modules=["tests.functions"]))
    now = datetime.now(UTC)
    listed = crons(rt, now)
    beat = {name: cron_entry(name, entry, now)
            for name, entry in rt.celery.conf.beat_schedule.items()}
    assert listed and len(listed) == len(beat)
    for row in listed:
        assert {k: v for k, v in row.items() if k not in ("catch_up", "last_catch_up")} \
            == beat[row["entry"]]


# ---- gateway diagnose: it asks the workers over the broker, with no runtime app -----------------

def test_gateway_diagnose_asks_the_workers_without_building_the_runtimes_app(
        cli_env: dict[str, str]) -> None:  # noqa: F811
    """Which workers consume the gateway queue is asked over the broker (Celery's inspect, so
    Celery and kombu are loaded) with an app connected to the broker alone: not the runtime's
    app, so neither the function modules and registry, nor the extensions, nor beat's
    scheduler; the settings are read concern by concern and Redis with the small client. (No
    worker runs here: the command fails, on the worker check, as it should.)"""
    code = ("from joelclaw.cli import cli\n"
            "assert cli.main(args=['gateway', 'diagnose', '--json'], prog_name='joelclaw', "
            "standalone_mode=False) == 1")
    wanted = ("celery", "kombu", "joelclaw.redisconn.resp")
    unwanted = ("joelclaw.bus.celery.app", "joelclaw.bus.celery.cron", "celery.beat",
                "joelclaw.bus.functions.registry", "tests.functions", "tasks",
                "joelclaw.gateway.plugin", "joelclaw.memory.plugin", "joelclaw.telemetry.plugin",
                "joelclaw.bus.execution.executor", "joelclaw.bus.records.runs",
                "pydantic_settings", "joelclaw.config.settings", "opentelemetry.sdk.metrics")
    loaded = loaded_after(code, {**os.environ, **cli_env}, (*wanted, *unwanted))
    assert all(loaded[name] for name in wanted), loaded
    assert [name for name in unwanted if loaded[name]] == []
