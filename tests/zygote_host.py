"""Run by tests/test_zygote.py as `python -m tests.zygote_host <log> <name> <preloaded: 0|1>
<child args...>`: a forking Supervisor in a process of its own, preloaded as `joelclaw up` does,
supervising `python -m tests.zygote_child <child args...>` until SIGTERM. The pytest process is
no stand-in for `up`: its own threads and its busy heap are not what a forked role inherits."""

from __future__ import annotations

import os
import signal
import sys

from joelclaw.supervisor import Output, Supervisor, zygote


def main() -> int:
    log, name, preloaded, *args = sys.argv[1:]
    zygote.preload()  # before any thread, as up does
    with open(log, "w", buffering=1) as stream:
        sup = Supervisor(Output(stream, colour=False), fork=True)
        sup.add(name, [sys.executable, "-m", "tests.zygote_child", *args], dict(os.environ),
                os.getcwd(), preloaded=preloaded == "1")
        signal.signal(signal.SIGTERM, lambda *_: sup.request_stop("SIGTERM"))
        sup.start()
        sup.run_until_stopped()
        print(f"host | children left: {sup.pids()}", file=stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
