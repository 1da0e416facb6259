"""`joelclaw up`: one foreground process that runs web, worker, gateway, beat and flower.

Why our own supervisor rather than honcho or foreman: it also owns the embedded Redis and
Typesense (services: started first and ready before anything else, restarted on the same port
with the same data, stopped last, so workers can finish and acknowledge their tasks), restarts
what dies with backoff, and shuts Celery down warm. Every child runs in its own session, so a
terminal Ctrl-C reaches only this process; Celery would otherwise see that SIGINT too, and a
second Ctrl-C would turn its warm shutdown into a cold one behind our back.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import FrameType

from joelclaw import durability, redisconn
from joelclaw.application import BEAT_GROUP, function_modules
from joelclaw.config import Settings, load_settings
from joelclaw.credentials import (
    api_token_file,
    describe_flower_auth,
    ensure_api_token,
    flower_credentials,
)
from joelclaw.errors import ConfigError, JoelclawError
from joelclaw.ownerfiles import owner_only, private_dir
from joelclaw.runtime import redact_url
from joelclaw.supervisor import zygote
from joelclaw.supervisor.logfiles import LogFiles
from joelclaw.supervisor.processes import Output, ServiceFailed, Supervisor
from joelclaw.supervisor.reloader import FileWatch, Reloader, web_hup
from joelclaw.supervisor.services import services_for

WEB_CONFIG = "python:joelclaw.webserver"  # gunicorn's settings for the web process
WEB_APP = "webhooks:create_app()"  # the web app's factory, which gunicorn calls in its worker
CELERY_APP = "joelclaw.worker"  # `-A` of worker, gateway, beat and Flower; built before the fork
SUPERVISED = {"JOELCLAW_SUPERVISED": "true"}


class UpError(JoelclawError):
    """A problem found before starting anything; `exit_code` is the exit status."""

    code = "UP_FAILED"

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def up(
    settings: Settings | None = None,
    *,
    flower: bool = True,
    beat: bool = True,
    gateway: bool = True,
    web: bool = True,
    typesense: bool = True,
    reload: bool = False,
    watchdog: bool = True,
) -> int:
    """Run the whole system in the foreground until Ctrl-C; the exit status for the CLI.

    2: bad settings, a busy port or an unprotected Flower (nothing was started); 1: Redis cannot
    be started or reached; 78: Redis may evict keys (JOELCLAW_REDIS_ACCEPT_EVICTION unset); 0:
    stopped by a signal. Call it from the main thread (it handles
    SIGINT, SIGTERM and SIGHUP while it runs).
    """
    try:
        settings = settings or load_settings()
    except ConfigError as exc:
        print(f"joelclaw up: {exc}", file=sys.stderr)
        return 2
    owner_only()  # everything up and its children create is the owner's alone (0600/0700)
    try:
        if flower:
            _flower_ready(settings)  # configured or generated credentials, before anything starts
        home = private_dir(settings.home_dir)
        with _home_lock(home):
            check_ports(settings, web=web, flower=flower)
            return _run(settings, flower=flower, beat=beat, gateway=gateway, web=web,
                        typesense=typesense, reload=reload, watchdog=watchdog)
    except UpError as exc:
        print(f"joelclaw up: {exc}", file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"joelclaw up: {exc}", file=sys.stderr)
        return durability.EX_CONFIG if isinstance(exc, durability.EvictingRedis) else 1


def _run(settings: Settings, *, typesense: bool = True, reload: bool = False,
         **enabled: bool) -> int:
    fork = zygote.available()  # the Python roles share the libraries imported here
    supervisor = Supervisor(Output(files=LogFiles(settings.home_dir / "logs")), fork=fork)
    with _stop_on_signals(supervisor), services_for(settings, supervisor, typesense) as services:
        base = child_env(settings, services.redis_url, services.search_url,
                         services.search_key)
        if enabled.get("flower", True) and not settings.flower.url:
            base["JOELCLAW_FLOWER_URL"] = flower_url(settings)  # traces link to its pages
        # Every child is supervised (only the workers and beat read it: a reload exits and
        # comes back at once); all of them having the same settings lets them share the
        # Celery app built before the fork (zygote.prebuild)
        base.update(SUPERVISED)
        for command in commands(settings, **enabled):
            supervisor.add(command.name, command.argv, command.environment(base),
                           preloaded=command.preloaded)
        reloader = None
        try:
            if fork:  # before any thread: the output readers start with the children
                zygote.preload(_preloads(settings), environ=base, app_module=CELERY_APP)
            try:
                supervisor.start()
            except ServiceFailed as exc:
                raise ConfigError(f"embedded {exc}: {services.tail(str(exc))}") from None
            durable = durability.describe(services.redis_url, settings)  # before the record:
            services.record()  # whoever waits on it finds the banner printed with it
            print_banner(supervisor, settings, services.redis_url, embedded=services.embedded,
                         durable=durable,
                         search=services.describe_search(), **enabled)
            modules = settings.worker.function_modules
            watch = FileWatch(function_modules(modules)) if reload else None
            reloader = Reloader(supervisor.log, web_hup(supervisor.signal),
                                redisconn.connect(services.redis_url, settings,
                                                  socket_connect_timeout=3, socket_timeout=5),
                                base, watch=watch, poll=settings.worker.reload_poll_seconds)
            reloader.start()
            supervisor.run_until_stopped()
        finally:
            if reloader is not None:
                reloader.stop()
            supervisor.stop()
    supervisor.log("stopped")
    return 0


def _preloads(settings: Settings) -> tuple[str, ...]:
    """The libraries, joelclaw's modules and the application's function modules (a child's
    restart, a reload's included, imports these from disk again)."""
    beats = tuple(ep.value.split(":")[0] for ep in metadata.entry_points(group=BEAT_GROUP))
    return (*zygote.PRELOAD, *zygote.PRELOAD_OURS, WEB_APP.split(":")[0],
            *function_modules(settings.worker.function_modules), *beats)


@dataclass(frozen=True)
class Command:
    """One process of the system: its argv and how its environment differs from the others'."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    # forked, its first start may use the modules `up` preloaded (joelclaw.supervisor.zygote)
    preloaded: bool = True

    def environment(self, base: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in base.items() if k not in self.unset} | self.env


def commands(
    settings: Settings, *, flower: bool = True, beat: bool = True, gateway: bool = True,
    web: bool = True, watchdog: bool = True,
) -> list[Command]:
    """The processes `up` runs, in start order; the interpreter running `up` runs them all."""
    celery = [sys.executable, "-m", "celery", "-A", CELERY_APP]
    plan: list[Command] = []
    if web:  # bind, workers and the gevent worker model: joelclaw/webserver.py
        plan.append(Command("web", [sys.executable, "-m", "gunicorn", "-c", WEB_CONFIG,
                                    *_gunicorn_control(settings.home_dir),
                                    WEB_APP]))
    supervised = SUPERVISED  # a reload exits; up restarts it at once
    plan.append(Command("worker", [*celery, "worker", "-Q", "joelclaw", "-c",
                                   str(settings.worker.concurrency), "-n", "worker@%h", "-E",
                                   "-l", "info"], supervised))
    if gateway:
        # A prefork pool of one, not a thread: on a thread pool the worker's consumer did not
        # act on `celery control shutdown` (`joelclaw gateway restart`) while it ran, and the
        # pool has no way to terminate a revoked task.
        plan.append(Command("gateway", [*celery, "worker", "-Q", "gateway", "-c", "1",
                                        "-n", "gateway@%h", "-E", "-l", "info"], supervised))
    if beat:
        schedule = str(settings.home_dir / "beat-schedule")
        plan.append(Command("beat", [*celery, "beat", "-s", schedule, "-l", "info"],
                            supervised))
    if flower:
        plan.append(_flower_command(settings))
    if watchdog and watchdog_configured(settings):  # the dead-man's switch: joelclaw/deadman.py
        plan.append(Command("watchdog", [sys.executable, "-m", "joelclaw.deadman"]))
    return plan


def watchdog_configured(settings: Settings) -> bool:
    """The watcher messages the owner directly: without a bot and an owner it has no one to
    tell (the banner says so)."""
    return bool(settings.telegram.token and settings.telegram.owner_id is not None)


def _gunicorn_control(home: Path) -> list[str]:
    """Gunicorn >= 25.1 opens a control socket, by default one per user (`~/.gunicorn`): keep
    ours under JOELCLAW_HOME so two systems on one machine do not fight over it."""
    try:
        version = tuple(int(part) for part in metadata.version("gunicorn").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return []
    if version < (25, 1):
        return []
    path = home / "gunicorn.ctl"
    if len(str(path)) > 100:  # beyond the AF_UNIX path limit
        return ["--no-control-socket"]
    return [f"--control-socket={path}"]


def _flower_command(settings: Settings) -> Command:
    """Flower behind basic auth, always (joelclaw/flower.py says why); the same entry point as
    the Procfile's, so both run Flower the same way."""
    return Command("flower", [sys.executable, "-m", "joelclaw.flower"], {},
                   ("FLOWER_UNAUTHENTICATED_API",))


def _flower_ready(settings: Settings) -> None:
    try:
        flower_credentials(settings)
    except ConfigError as exc:
        raise UpError(str(exc)) from None


def check_ports(settings: Settings, *, web: bool = True, flower: bool = True) -> None:
    """Every port `up` opens must be free before anything starts; name the setting to change."""
    wanted = []
    if web:
        wanted.append(("JOELCLAW_WEB_PORT", settings.web.host, settings.web.port))
    if flower:
        wanted.append(("JOELCLAW_FLOWER_PORT", settings.flower.address, settings.flower.port))
    if len({port for _, _, port in wanted}) < len(wanted):
        raise UpError(f"JOELCLAW_WEB_PORT and JOELCLAW_FLOWER_PORT are both {settings.web.port}: "
                      "give them different ports")
    for variable, host, port in wanted:
        if not port_available(host, port):
            raise UpError(f"port {port} is in use: set {variable} to a free port")


def port_available(host: str, port: int) -> bool:
    """Bind as gunicorn and tornado will (SO_REUSEADDR, so a TIME_WAIT leftover is no conflict)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return False
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
    return True


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


@contextlib.contextmanager
def _home_lock(home: Path) -> Iterator[None]:
    """Two `up`s on one JOELCLAW_HOME would run two Redis servers on the same files."""
    with (home / "up.lock").open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpError(f"another `joelclaw up` is already running with JOELCLAW_HOME={home}",
                          exit_code=1) from None
        yield


@contextlib.contextmanager
def _stop_on_signals(supervisor: Supervisor) -> Iterator[None]:
    """First SIGINT/SIGTERM/SIGHUP: graceful stop. Any further one: kill everything now."""
    received: list[int] = []

    def handle(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            supervisor.request_stop(signal.Signals(signum).name)
        else:
            supervisor.kill_now()

    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {signum: signal.signal(signum, handle) for signum in watched}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def child_env(settings: Settings, redis_url: str, typesense_url: str | None = None,
              typesense_api_key: str | None = None) -> dict[str, str]:
    """Our environment plus the settings `up` validated, so every child sees the same ones."""
    env = dict(os.environ)
    # JSON mode: nested models (breaker tunings, effect budgets) and paths as the variables
    # themselves would spell them, so a child parses back exactly what `up` validated
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            text = json.dumps(value) if isinstance(value, list | dict) else str(value)
            env[f"JOELCLAW_{name.upper()}"] = text
    env["JOELCLAW_HOME"] = str(settings.home_dir)
    env["JOELCLAW_API_TOKEN"] = ensure_api_token(settings)  # configured, or generated once
    env["JOELCLAW_REDIS_URL"] = redis_url
    if typesense_url:
        env["JOELCLAW_TYPESENSE_URL"] = typesense_url
    if typesense_api_key:
        env["JOELCLAW_TYPESENSE_API_KEY"] = typesense_api_key
    env.pop("TYPESENSE_API_KEY", None)  # only the embedded server itself gets it this way
    env["PYTHONUNBUFFERED"] = "1"  # lines reach our prefixed output as they are written
    return env


def flower_url(settings: Settings) -> str:
    """The address of the Flower `up` starts, as a browser on this machine reaches it."""
    return f"http://{_display_host(settings.flower.address)}:{settings.flower.port}"


def print_banner(supervisor: Supervisor, settings: Settings, redis_url: str, *,
                 embedded: bool, web: bool = True, flower: bool = True,
                 search: str | None = None, durable: str | None = None,
                 watchdog: bool = True, **_: bool) -> None:
    """Where everything is, once the children are started."""
    home = settings.home_dir
    lines = ["joelclaw is running:"]
    if web:
        base = f"http://{_display_host(settings.web.host)}:{settings.web.port}"
        token = ("JOELCLAW_API_TOKEN" if settings.web.api_token
                 else f"the token in {api_token_file(settings)}")
        lines.append(f"  web      {base}  (log in, or send 'Authorization: Bearer ...', with "
                     f"{token})")
    if flower:
        lines.append(f"  flower   {flower_url(settings)}  ({describe_flower_auth(settings)})")
    where = f"embedded, data in {home / 'redis'}" if embedded else "JOELCLAW_REDIS_URL"
    lines.append(f"  redis    {redact_url(redis_url)}  ({where})")
    if durable is not None:
        lines.append(f"  durable  {durable}")
    if search is not None:
        lines.append(f"  search   {search}")
    if watchdog and watchdog_configured(settings):
        lines.append(f"  watchdog tells the owner on Telegram after "
                     f"{settings.deadman.silence_seconds:g} s of silence "
                     "(joelclaw watchdog status)")
    elif watchdog:
        lines.append("  watchdog off: set JOELCLAW_TELEGRAM_TOKEN and JOELCLAW_TELEGRAM_OWNER_ID")
    lines.append(f"  home     {home}  (JOELCLAW_HOME)")
    lines.append("  logs     every process logs here, prefixed with its name, and to "
                 f"{home / 'logs'}/<name>.log (joelclaw logs <name>)"
                 + (f"; Redis logs to {home / 'redis' / 'redis.log'}" if embedded else ""))
    lines.append("  next     in another shell with the same JOELCLAW_HOME: joelclaw status, "
                 "joelclaw send system/heartbeat.wake --follow")
    lines.append("Ctrl-C to stop")
    for line in lines:
        supervisor.log(line)


def _display_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return _bracketed(host)
