"""Run by tests/test_zygote.py as `python -m tests.zygote_child <exit code|sleep>` under a
forking Supervisor: says what it was given, then exits with that code or waits for a signal."""

from __future__ import annotations

import json
import os
import signal
import sys

PRELOADED = "joelclaw.errors" in sys.modules  # before this module imports anything of ours


def main() -> int:
    print(json.dumps({
        "pid": os.getpid(), "ppid": os.getppid(), "sid": os.getsid(0), "cwd": os.getcwd(),
        "env": os.environ.get("ZYGOTE_TEST"), "argv": sys.argv[1:], "preloaded": PRELOADED,
        "stdin": sys.stdin.read(),
    }), flush=True)
    if sys.argv[1] == "sleep":
        print("ready", flush=True)
        signal.pause()  # stays until a signal (the supervisor's SIGTERM) ends it
    return int(sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
