"""bench/bus.py's figures with the embedded Redis on each `appendfsync` mode, side by side.

    python bench/durability.py [--modes everysec,always] [bench/bus.py options]

Each mode gets a fresh Redis and fresh workers (bench/bus.py's `measure`); the table shows the
joelclaw figures per mode and, for the throughputs, the plain Celery task's on the same Redis.
What a crash can lose in each mode is in README.md (Durability).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bus import arguments, measure  # noqa: E402

ROWS = (  # label, side, key
    ("event->function start p50 (ms)", "joelclaw", "p50"),
    ("event->function start p99 (ms)", "joelclaw", "p99"),
    ("one-step runs/s", "joelclaw", "rate"),
    ("one-step runs/s, plain Celery", "plain", "rate"),
    ("ten-step runs/s", "joelclaw", "ten_rate"),
    ("ten-step runs/s, plain Celery", "plain", "ten_rate"),
    ("no-op step p50 (us)", "steps", "step_p50"),
    ("no-op step p99 (us)", "steps", "step_p99"),
    ("Redis PING p50 (us)", "steps", "ping_p50"),
    ("Redis PING p99 (us)", "steps", "ping_p99"),
)


def main() -> None:
    argv = sys.argv[1:]
    modes = ["everysec", "always"]
    if "--modes" in argv:
        at = argv.index("--modes")
        modes = argv[at + 1].split(",")
        del argv[at:at + 2]
    figures = {}
    for mode in modes:
        args = arguments([*argv, "--appendfsync", mode])
        print(f"--- appendfsync {mode} ---", file=sys.stderr)
        figures[mode] = measure(args)
    print(f"\nsame machine, one run per mode, worker concurrency {args.concurrency}\n")
    print(f"{'measure':<34}" + "".join(f"{mode:>12}" for mode in modes))
    for label, side, key in ROWS:
        print(f"{label:<34}" + "".join(f"{figures[m][side][key]:>12.1f}" for m in modes))


if __name__ == "__main__":
    main()
