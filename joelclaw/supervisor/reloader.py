"""Hot reload under `joelclaw up`.

- Every reload (`joelclaw reload`, `celery control pool_restart`, or the watcher below) makes the
  workers and beat restart themselves (`joelclaw.bus.celery.reload`); `up` adds the web app: it
  sends gunicorn SIGHUP, whose new workers import the new code (the app is not preloaded), so events
  sent over HTTP reach new functions too.
- With `up --reload` (development) it polls the function modules' files (mtime and size, no
  extra dependency) and runs `joelclaw reload` in a fresh process when one changes: that
  process imports the code from disk and refuses it if it does not load.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import redis

from joelclaw.application import codeversion
from joelclaw.bus.records import codestate

SETTLE_SECONDS = 0.3  # an editor's save can be several writes: wait until the files are still
RELOAD_TIMEOUT = 120.0


class FileWatch:
    """The function modules' source files, compared by mtime and size between polls."""

    def __init__(self, modules: Iterable[str]):
        self.modules = tuple(modules)
        cwd = os.getcwd()  # the children run `python -m ...` here, which puts it on sys.path
        if cwd not in sys.path:
            sys.path.append(cwd)
        self.seen = codeversion.stamps(self.modules)

    def files(self) -> list[Path]:
        return sorted(self.seen)

    def changed(self) -> bool:
        """True once per change (a burst of writes counts once, after it settles)."""
        now = codeversion.stamps(self.modules)
        if now == self.seen:
            return False
        while True:
            time.sleep(SETTLE_SECONDS)
            again = codeversion.stamps(self.modules)
            if again == now:
                break
            now = again
        self.seen = now
        return True


class Reloader:
    """A thread of `up`: reload the web app after each reload; with a FileWatch, reload when
    the function modules change."""

    def __init__(self, log: Callable[[str], None], signal_web: Callable[[], bool],
                 client: redis.Redis, env: dict[str, str], *, watch: FileWatch | None = None,
                 poll: float = 1.0):
        self.log, self.signal_web, self.env, self.watch = log, signal_web, env, watch
        self.poll = poll
        self.client = client
        self.generation: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.watch is not None:
            self.log(f"watching {len(self.watch.files())} function module file(s) for changes "
                     "(up --reload)")
        self._thread = threading.Thread(target=self._loop, name="up-reloader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.client.close()

    def _read_generation(self) -> int | None:
        try:
            return codestate.generation(self.client)
        except redis.RedisError:
            return None

    def _loop(self) -> None:
        self.generation = self._read_generation()
        while not self._stop.wait(self.poll):
            try:
                if self.watch is not None and self.watch.changed():
                    self.reload()
                self.follow_generation()
            except Exception as exc:  # the supervisor must outlive any surprise here
                self.log(f"reloader: {type(exc).__name__}: {exc}")

    def follow_generation(self) -> None:
        latest = self._read_generation()
        if latest is None:
            return
        if self.generation is None:
            self.generation = latest
        elif latest > self.generation:
            self.generation = latest
            if self.signal_web():
                self.log(f"reload {latest}: web restarts its workers on the new code (HUP)")

    def reload(self) -> dict[str, object] | None:
        """Run `joelclaw reload` in a fresh process; log what it did."""
        self.log("a function module changed: joelclaw reload")
        argv = [sys.executable, "-m", "joelclaw.cli", "reload", "--json", "--no-wait"]
        try:
            done = subprocess.run(argv, env=self.env, capture_output=True, text=True,
                                  timeout=RELOAD_TIMEOUT, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            self.log(f"reload failed: {exc}")
            return None
        try:
            envelope = json.loads(done.stdout)
        except ValueError:
            self.log(f"reload failed: {(done.stderr or done.stdout).strip()[-500:]}")
            return None
        if not envelope.get("ok"):
            error = envelope.get("error") or {}
            self.log(f"reload refused ({error.get('code')}): {error.get('message')}")
            return envelope
        result = envelope["result"]
        removed = ", ".join(result.get("removed") or []) or "none"
        self.log(f"reload {result['generation']}: code version {result['version']}, "
                 f"{len(result['functions'])} function(s), removed: {removed}")
        return envelope


def web_hup(signal_child: Callable[[str, int], bool]) -> Callable[[], bool]:
    return lambda: signal_child("web", signal.SIGHUP)
