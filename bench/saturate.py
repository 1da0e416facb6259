"""Run a command (by default the README's test command) while busy processes saturate the cores.

    python bench/saturate.py [--busy N] [--times K] [--] [command ...]

Starts N busy-looping processes (default: one per core, at normal priority), runs the command
K times (default 1) beside them, stops them, and prints each run's exit code and time. It exits
with the first failing exit code, so `python bench/saturate.py --times 2` is the proof that the
suite passes twice on a machine whose cores are all taken. The default command is
`ruff check . && pytest`; pass any other after `--` (e.g. `-- pytest tests/test_cron.py -q`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = "ruff check . && pytest"


def busy(stop_at: float) -> None:
    """Burn a core until `stop_at` (a safety net: the parent terminates us long before)."""
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    x = 0
    while time.time() < stop_at:
        x = (x * 31 + 7) % 1_000_003


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=os.cpu_count() or 2,
                        help="busy processes (default: one per core)")
    parser.add_argument("--times", type=int, default=1, help="runs of the command")
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help=f"the command (default: {DEFAULT!r})")
    args = parser.parse_args()
    words = [w for w in args.command if w != "--"] if args.command else []
    command = shlex.join(words) if words else DEFAULT
    hogs = [multiprocessing.Process(target=busy, args=(time.time() + 6 * 3600,), daemon=True)
            for _ in range(args.busy)]
    for hog in hogs:
        hog.start()
    print(f"saturate: {args.busy} busy processes on {os.cpu_count()} cores; running "
          f"{command!r} {args.times} time(s)", flush=True)
    results: list[tuple[int, float]] = []
    try:
        for index in range(args.times):
            began = time.monotonic()
            code = subprocess.call(["bash", "-c", command], cwd=ROOT)
            results.append((code, time.monotonic() - began))
            print(f"saturate: run {index + 1}: exit {code} in {results[-1][1]:.0f} s",
                  flush=True)
    except KeyboardInterrupt:
        print("saturate: interrupted", file=sys.stderr)
        return 130
    finally:
        for hog in hogs:
            hog.terminate()
        for hog in hogs:
            hog.join(5)
    for index, (code, took) in enumerate(results, 1):
        print(f"run {index}: {'passed' if code == 0 else f'FAILED (exit {code})'} ({took:.0f} s)")
    return next((code for code, _ in results if code), 0)


if __name__ == "__main__":
    sys.exit(main())
