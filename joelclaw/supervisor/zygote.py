"""`joelclaw up`'s Python roles forked from the supervisor instead of started as new interpreters.

Why: web, worker, gateway, beat and Flower each imported the same ~65 MiB of libraries (Celery,
kombu, Flower and tornado, gunicorn and gevent, Flask, pydantic, redis, httpx, typesense) into a
fresh interpreter of their own. Here the supervisor imports them once (`preload`), moves them out
of the collector's reach (`gc.freeze`, so no collection dirties their pages) and forks each role:
the pages stay shared copy-on-write and PSS divides them between the processes.

`up` also preloads joelclaw's own library modules and the application's function modules, and
a role's first start uses them (the code on disk a moment ago). A restart, `joelclaw reload`'s
included, drops every module of the project (whatever is not in the standard library or
site-packages) before it runs its role, so it imports them from disk as a new interpreter would.
None of them registers anything in a library when imported but the Celery app's module
(`app_module`, joelclaw.worker), which `up` also builds here, from the children's environment,
and finalises: building it cost each of worker, gateway, beat and Flower ~12 MiB of pages copied
from the shared ones. What it connects to Celery's signals is dropped with the project's modules
(`forget_project_modules`), so a restart leaves nothing stale behind; a child whose settings
differ from the ones it was built with starts fresh, as a restart does. The web's gunicorn
workers forked after a SIGHUP forget the same way (joelclaw.webserver's post_fork).

A forked child is what `python -m <module> <args>` would be: its own session, stdin from
/dev/null, stdout and stderr into the supervisor's pipe, the command's environment, default
signal handlers, the command line as its process title (so `ps` and psutil still tell the roles
apart), and `runpy` running the module as `__main__`. Its exit status is the one the interpreter
would have had.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import logging
import os
import runpy
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import traceback
import weakref
from collections.abc import Iterable, Iterator, Mapping
from typing import IO

from joelclaw.supervisor import deferred

# The libraries the roles share (what `joelclaw.worker`, `webhooks:create_app()`, Flower and
# gunicorn's gevent worker import); anything missing is skipped, and a role imports it itself.
PRELOAD = (
    "celery.bin.celery", "celery.apps.worker", "celery.apps.beat", "celery.worker.worker",
    "celery.worker.consumer", "celery.concurrency.prefork", "celery.events.state",
    "kombu.transport.redis", "billiard.pool", "flower.command", "flower.app", "tornado.web",
    "gunicorn.app.wsgiapp", "gunicorn.arbiter", "gunicorn.workers.ggevent", "gevent",
    "flask", "jinja2", "werkzeug.routing", "itsdangerous", "blinker", "pydantic",
    "pydantic_settings", "redis", "hiredis", "httpx", "typesense", "croniter",
    "prometheus_client", "cachetools",
    # What Celery imports only once an app is built and a worker, beat or Flower starts (the
    # app's amqp, control, events and routes, the worker's components and strategy, billiard's
    # pool plumbing): imported after the fork, each of those roles held its own copy.
    "celery.app.amqp", "celery.app.control", "celery.app.events", "celery.app.log",
    "celery.app.routes", "celery.fixups.django", "celery.loaders.default",
    "celery.worker.components", "celery.worker.autoscale", "celery.worker.strategy",
    "celery.worker.consumer.delayed_delivery",
    "billiard.popen_fork", "billiard.synchronize", "billiard.sharedctypes", "billiard.heap",
    "tornado.platform.asyncio", "gunicorn.glogging", "logging.config",
    # What a role imports as it starts, found by listing each forked process's modules after it
    # served: gevent's patches (imported by `patch_all` in the web's worker, applied only there),
    # gunicorn's control socket and beat's schedule file (shelve's dbm.dumb). Not celery.__main__:
    # a role runs it (`python -m celery`), and runpy warns of a module imported before it ran.
    "gevent.monkey", "gevent.local", "gevent.thread", "gevent.threading", "gevent.select",
    "gevent.selectors", "gevent.signal", "gevent.ssl", "gevent.subprocess", "gevent.time",
    "gevent.events", "zope.event", "_threading_local", "gunicorn.ctl.server",
    "gunicorn.ctl.client", "dbm.dumb", "encodings.latin_1",
)
# The library's own modules behind `joelclaw.worker` (its runtime, Celery glue and plugins),
# none of which does anything when imported. `up` adds the application's function modules.
PRELOAD_OURS = (
    "joelclaw.runtime", "joelclaw.client", "joelclaw.redaction", "joelclaw.health",
    "joelclaw.bus.celery.app", "joelclaw.bus.celery.cron", "joelclaw.bus.celery.reload",
    "joelclaw.bus.celery.sweeper", "joelclaw.bus.celery.task_hooks",
    "joelclaw.bus.celery.catchup", "joelclaw.bus.execution.executor", "joelclaw.bus.flow",
    "joelclaw.bus.functions", "joelclaw.events.payloads", "joelclaw.events.store",
    "joelclaw.agents.plugin", "joelclaw.cassettes.recorder", "joelclaw.checks.plugin",
    "joelclaw.coordination.breakers", "joelclaw.coordination.budgets", "joelclaw.gateway.plugin",
    "joelclaw.memory.plugin", "joelclaw.telemetry.plugin", "joelclaw.integrations",
    "joelclaw.backups.steps", "joelclaw.docs.ingest", "joelclaw.media.understand",
    # what a pool process imports on its first run (delivery, intake, the checks)
    "joelclaw.bus.delivery.capture", "joelclaw.bus.flow.cancel", "joelclaw.bus.intake.dispatch",
    "joelclaw.checks.network", "joelclaw.checks.service",
    # what the application's function modules call, imported by each function when it runs
    # (declaring them, as the CLI does, loads none): loaded here, as they were with the modules
    "joelclaw.checks.calendar", "joelclaw.checks.clients", "joelclaw.checks.digest",
    "joelclaw.checks.email_triage", "joelclaw.checks.sessions", "joelclaw.checks.system_health",
    "joelclaw.checks.task_triage", "joelclaw.checks.tracked", "joelclaw.checks.triggers_audit",
    "joelclaw.checks.vault", "joelclaw.checks.window", "joelclaw.media.archive",
    "joelclaw.media.kinds", "joelclaw.gateway.budget_answer", "joelclaw.telemetry.systemlog",
    "joelclaw.integrations.http",
    # the payload models every event is validated by (a pool process's first event loaded them)
    "joelclaw.events.registry",
)


def available() -> bool:
    """Forking needs a way to give each child its own process title (psutil, `ps`, our tests and
    the footprint bench tell the roles apart by their command lines); without setproctitle the
    roles start as new interpreters, as before."""
    try:
        import setproctitle  # noqa: F401
    except ImportError:
        return False
    return hasattr(os, "fork")


# The settings (JOELCLAW_* variables) the preloaded Celery app was built from, if one was.
_built_with: dict[str, str] | None = None


def preload(modules: Iterable[str] = PRELOAD + PRELOAD_OURS,
            environ: Mapping[str, str] | None = None, app_module: str | None = None) -> int:
    """Import the shared libraries, then freeze every object built so far; how many modules
    are loaded. `environ`: the children's environment, to read their settings from once here
    (`warm_settings`) and to build `app_module`'s Celery app from (`prebuild`). Call it before
    the supervisor starts any thread."""
    gc.disable()  # no collection while importing: its freed holes, filled by the children's
    try:          # allocations, would copy the pages around them
        with deferred.highlighting_later(), contextlib.suppress(Exception):
            importlib.import_module("celery.bin.base")  # Celery's command line, uncoloured
        for name in modules:
            with contextlib.suppress(Exception):  # a missing library is the role's business
                importlib.import_module(name)
        if environ is not None:
            warm_settings(environ)
            if app_module is not None:
                prebuild(app_module, environ)
    finally:
        gc.freeze()
        gc.enable()
    return len(sys.modules)


@contextlib.contextmanager
def _environment(environ: Mapping[str, str]) -> Iterator[None]:
    """`os.environ` is `environ` for the duration (no thread runs yet: see `preload`)."""
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(environ)
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def warm_settings(environ: Mapping[str, str]) -> None:
    """Read the settings once as every role will, from its environment, and drop them.

    Why: each Python role reads its settings first thing, and that first read fills the
    caches of the libraries it goes through (pydantic's and pydantic-settings' per-type
    answers, `abc`'s subclass caches, `typing`'s) and specialises their bytecode. Done in every
    child, each paid ~2 MiB of pages copied from the shared ones; done here, the children find
    the caches filled and share them. Nothing is kept and nothing registered: only the
    libraries' own memoisation changes, as it would on the role's own first read."""
    from joelclaw.config import Settings

    with _environment(environ), contextlib.suppress(Exception):  # a bad setting: the role's
        Settings()


def prebuild(app_module: str, environ: Mapping[str, str]) -> bool:
    """Import the Celery app's module as the roles will, from their environment, and finalise
    its app (its tasks registered); whether it was. The roles' `-A <app_module>` then finds it
    built: each used to build its own, and copied ~12 MiB of shared pages doing so. A failure is
    left to the roles, which import it themselves and report it."""
    global _built_with
    with _environment(environ):
        try:
            module = importlib.import_module(app_module)
            _ = module.app.tasks  # finalised here, not in each role
        except Exception as exc:
            sys.modules.pop(app_module, None)
            print(f"up: {app_module} not built before the fork ({type(exc).__name__}: {exc}); "
                  "each role builds its own", file=sys.stderr)
            return False
    _built_with = _settings_of(environ)
    return True


def _settings_of(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k.startswith("JOELCLAW_")}


def forkable(argv: list[str]) -> bool:
    """`python -m <module> ...` with the interpreter running the supervisor."""
    return len(argv) >= 3 and argv[0] == sys.executable and argv[1] == "-m"


class Forked:
    """A forked child, with the part of `subprocess.Popen` the supervisor uses."""

    def __init__(self, pid: int, stdout: IO[bytes]):
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.returncode: int | None = None
        self._reaping = threading.Lock()  # the reloader's thread asks too (SIGHUP to the web)

    def poll(self) -> int | None:
        with self._reaping:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: gone, status unknown
                    self.returncode = 255
                    return self.returncode
                if pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0.0)
            time.sleep(0.02)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)


def settle() -> None:
    """Just before a fork, what the supervisor built since `preload` (the services' readiness
    probes, each an HTTP client; its output lines): its garbage collected here rather than in
    each child, and the rest frozen too, or every child's collections would write to the pages
    holding it (measured: +8 MiB private in gateway, beat and Flower when Typesense was slow to
    answer). Call it without holding a lock a finalizer could want (the output lock)."""
    gc.collect()
    gc.freeze()


def fork(argv: list[str], env: dict[str, str] | None, cwd: str | None, fresh: bool = True
         ) -> Forked:
    """Start `argv` (`python -m <module> ...`) as a forked child; the caller holds every lock
    another thread could hold while writing (the supervisor's output lock). `fresh`: the child
    imports the project's modules from disk rather than use the supervisor's."""
    import setproctitle

    setproctitle.getproctitle()  # finds argv here, once, before a child changes its environment
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _become(argv, env, cwd, write_end, fresh)
    os.close(write_end)
    return Forked(pid, os.fdopen(read_end, "rb"))


def _become(argv: list[str], env: dict[str, str] | None, cwd: str | None, output: int,
            fresh: bool) -> None:
    code = 1
    try:
        os.setsid()
        _streams(output)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
                       signal.SIGUSR2):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(-1)
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        _search_path()
        if fresh or (_built_with is not None
                     and _settings_of(os.environ) != _built_with):  # other settings: own app
            forget_project_modules()
        import setproctitle

        setproctitle.setproctitle(" ".join(argv))
        sys.argv = [argv[2], *argv[3:]]
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    except KeyboardInterrupt:  # as an interpreter does: die of the signal
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:  # the handlers its libraries registered at import ran in `up` run here, as theirs
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        with contextlib.suppress(BaseException):
            logging.shutdown()
        _flush()
        os._exit(code)


def _streams(output: int) -> None:
    """stdin from /dev/null, stdout and stderr into the pipe; every other descriptor closed (the
    supervisor's pipes, sockets and lock are not the child's)."""
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output, 1)
    os.dup2(output, 2)
    os.closerange(3, _max_fd())
    streams = {"stdin": open(0, closefd=False),  # noqa: SIM115
               "stdout": open(1, "w", buffering=1, closefd=False),  # noqa: SIM115
               "stderr": open(2, "w", buffering=1, closefd=False,  # noqa: SIM115
                              errors="backslashreplace")}
    for name, stream in streams.items():
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _search_path() -> None:
    """Where `python -m` looks first: the working directory, then PYTHONPATH."""
    first = [os.getcwd(), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    sys.path[:] = first + [entry for entry in sys.path if entry not in first]


def _max_fd() -> int:
    try:
        return max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return os.sysconf("SC_OPEN_MAX")


def forget_project_modules() -> None:
    """Drop every module not from the standard library or site-packages: the role imports the
    project's code from disk, not the supervisor's copy."""
    shared = tuple({sysconfig.get_paths()[key] for key in
                    ("stdlib", "platstdlib", "purelib", "platlib")})
    forgotten = set()
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", [])),
                                                            None)
        if name != "__main__" and isinstance(origin, str) and not origin.startswith(shared):
            del sys.modules[name]
            forgotten.add(name)
    _forget_receivers(forgotten)


def _forget_receivers(modules: set[str]) -> None:
    """Disconnect from Celery's signals what the forgotten modules connected (the preloaded
    app's hooks): the role's own import connects its new ones."""
    signals = sys.modules.get("celery.signals")
    if signals is None or not modules:
        return
    for value in vars(signals).values():
        receivers = getattr(value, "receivers", None)
        if not isinstance(receivers, list):
            continue
        kept = [entry for entry in receivers if _module_of(entry[1]) not in modules]
        if len(kept) != len(receivers):
            receivers[:] = kept
            with contextlib.suppress(AttributeError):
                value.sender_receivers_cache.clear()


def _module_of(receiver: object) -> str | None:
    """The module defining a receiver: a function, a bound method, or a weak reference to one."""
    if isinstance(receiver, weakref.ref):
        receiver = receiver()
    function = getattr(receiver, "__func__", receiver)
    module = getattr(function, "__module__", None)
    return module if isinstance(module, str) else None


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
