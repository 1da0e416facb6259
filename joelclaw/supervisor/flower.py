"""`celery flower`, plus the one thing Flower 2.2 lacks for a system whose workers come and go:
it asks the workers what they are (`inspect`) once, when it starts, with a 1 s timeout, and never
again unless a page asks. A worker that boots after Flower (`joelclaw up` starts them together)
or answers that first inspection too slowly (a busy machine) stays missing: `GET /api/workers`
answered `{}`. Here Flower inspects again every few seconds while its task events know a worker
that its inspection does not (and once a minute anyway), with a 5 s timeout.

When no worker answers an inspection (none has booted yet, or all are down), Flower logs a
warning per method ("Inspect method stats failed") at every start of `joelclaw up`: here that
is one line saying so instead, since the re-inspection above picks the workers up once they boot.

Run as `python -m joelclaw.supervisor.flower <celery arguments>`: the arguments and settings
(FLOWER_* variables, auth included) are celery flower's own.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

CHECK_MS = 3000  # how often Flower's view of the workers is compared with its events
REINSPECT_SECONDS = 60.0  # inspect all workers at least this often
INSPECT_TIMEOUT_MS = 5000  # Flower's default (1000) loses slow replies on a busy machine


def install() -> None:
    """Patch Flower's app start to run the re-inspection (Flower has no hook for it)."""
    from flower.app import Flower
    from tornado.ioloop import PeriodicCallback

    original = Flower.start
    if getattr(original, "joelclaw", False):
        return

    def start(self: Any) -> None:
        last = [time.monotonic()]

        def check() -> None:
            known = set(self.events.state.workers)  # from worker events (online, heartbeat)
            inspected = set(self.workers)
            if known - inspected or time.monotonic() - last[0] >= REINSPECT_SECONDS:
                last[0] = time.monotonic()
                self.update_workers()

        PeriodicCallback(check, CHECK_MS).start()
        original(self)

    start.joelclaw = True  # type: ignore[attr-defined]  # marks Flower as patched, once
    Flower.start = start


class NoWorkerAnswered(logging.Filter):
    """Flower's "Inspect method <m> failed" for a reply of no worker at all (not for an error,
    which it logs with the error): one line a minute at most instead of one per method."""

    def __init__(self, every: float = REINSPECT_SECONDS) -> None:
        super().__init__()
        self.every = every
        self.said_at = float("-inf")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != "Inspect method %s failed" or len(record.args or ()) != 1:
            return True
        now = time.monotonic()
        if now - self.said_at < self.every:
            return False
        self.said_at = now
        record.msg, record.args = ("no worker answered Flower's inspection (none running "
                                   "yet?); it asks again when one appears"), ()
        record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def argv(arguments: list[str]) -> list[str]:
    """celery's argv, with the longer inspection timeout unless one is given."""
    if any(a.startswith("--inspect_timeout") or a.startswith("--inspect-timeout")
           for a in arguments):
        return ["celery", *arguments]
    return ["celery", *arguments, f"--inspect_timeout={INSPECT_TIMEOUT_MS}"]


def main() -> None:
    from celery.__main__ import main as celery_main

    install()
    logging.getLogger("flower.inspector").addFilter(NoWorkerAnswered())
    sys.argv = argv(sys.argv[1:])
    celery_main()


if __name__ == "__main__":
    main()
