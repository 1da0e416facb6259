"""Workers and beat restarting on a reload (see `joelclaw.bus.records.codestate` for the state).

A worker's main process watches the reload generation in a thread. When it grows, the worker
shuts down warm, as on SIGTERM: it stops taking messages, its pool finishes what it runs (each
execution stops at its next step boundary: the run is queued again in Redis, so nothing is lost
and no finished step runs again), acknowledges, and then the process starts again on the new
code: under `joelclaw up` it exits with `RELOAD_EXIT` and up starts it again at once; started
by hand it re-executes itself with the same command line (same pid). Beat does the same from
its tick and rebuilds its schedule from the new code.

Celery's `pool_restart` control command (disabled in plain Celery unless
`worker_pool_restarts`) does the same as `joelclaw reload` for the workers it reaches, instead of
re-importing modules inside pool processes (Celery's own reload keeps old objects alive).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
import threading
from typing import TYPE_CHECKING, Any

from celery import bootsteps
from celery.worker import state as worker_state
from celery.worker.control import control_command, ok

from joelclaw.bus.celery.exitcodes import RELOAD_EXIT
from joelclaw.bus.records import codestate

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.reload")

POLL_SECONDS = 0.5


def reexec() -> None:
    """Replace this process with a fresh one running the same command line."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    argv = list(getattr(sys, "orig_argv", [])) or [sys.executable, *sys.argv]
    os.execv(sys.executable, [sys.executable, *argv[1:]])


class ReloadStep(bootsteps.StartStopStep):
    """In every worker's main process: restart warm when a reload's generation appears.

    Bound to its bus with `reload_step(bus)`, which the Celery app factory adds to the worker.
    """

    requires = {"celery.worker.components:Pool"}
    bus: Bus

    def __init__(self, worker: Any, **kwargs: Any):
        super().__init__(worker, **kwargs)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:  # before the pool forks: its processes inherit the version and generation
            self.bus.code.begin()
            codestate.baseline(self.bus.redis, self.bus.code.version,
                               [fn.id for fn in self.bus.registry])
        except Exception:
            log.exception("could not read the reload generation; reloads start when Redis "
                          "answers")

    def start(self, worker: Any) -> None:
        self._thread = threading.Thread(target=self._loop, name="joelclaw-reload", daemon=True)
        self._thread.start()

    def stop(self, worker: Any) -> None:
        self._stop.set()

    def _loop(self) -> None:
        code = self.bus.code
        while not self._stop.wait(POLL_SECONDS):
            try:
                if code.generation is None:
                    code.begin()
                latest = code.latest()
            except Exception:
                continue
            if code.generation is not None and latest > code.generation:
                restart_worker(self.bus, latest)
                return


def restart_worker(bus: Bus, generation: int) -> None:
    """Warm shutdown, then start again (exit for `up`, re-execute by hand)."""
    log.warning("code reload (generation %d): finishing the current steps, then restarting "
                "on the new code", generation)
    if not bus.settings.worker.supervised:
        atexit.register(_reexec_unless_stopped)
    worker_state.should_stop = RELOAD_EXIT


def _reexec_unless_stopped() -> None:
    """At exit after a reload's warm shutdown: start again, unless someone asked the worker to
    stop meanwhile (Celery's SIGTERM handler sets `should_stop` to 0, SIGINT/SIGQUIT set
    `should_terminate`): a stop during a reload stops."""
    if worker_state.should_stop == RELOAD_EXIT and not worker_state.should_terminate:
        reexec()


def reload_step(bus: Bus) -> type[ReloadStep]:
    return type("ReloadStep", (ReloadStep,), {"bus": bus})


def install_pool_restart(bus: Bus) -> None:
    """`celery control pool_restart` reloads like `joelclaw reload` (every worker and beat)."""

    @control_command(name="pool_restart")
    def pool_restart(state: Any, modules: Any = None, reload: bool = False,
                     reloader: Any = None, **kwargs: Any) -> dict[str, str]:
        started = bus.code.generation or 0
        new = codestate.ensure_after(bus.redis, started, "celery control pool_restart")
        return ok(f"reload requested (generation {new}): workers finish their current step "
                  "and restart on the code on disk, beat rebuilds its schedule; `joelclaw "
                  "reload` does the same and also reports removed functions")
