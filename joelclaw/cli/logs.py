"""`joelclaw logs [process]`: the last lines of what `joelclaw up` wrote for each process
(JOELCLAW_HOME/logs/<name>.log), merged in time order; `errors` keeps only error lines of all
of them; `--follow` streams new lines until Ctrl-C or `--timeout`."""

from __future__ import annotations

import re
import time
from collections import deque
from pathlib import Path
from typing import Any

import click

from joelclaw.cli.app import Session, command
from joelclaw.cli.output import Failure, Reply, action
from joelclaw.cli.streaming import Stream

PROCESSES = ("worker", "web", "gateway", "beat", "flower", "up")
SEARCH = "search"  # the embedded Typesense `up` supervises: its output, as `up` saw it
EXTRA = {"redis": ("redis", "redis.log"), "cli": ("logs", "cli-errors.log")}
SOURCES = ("all", *PROCESSES, SEARCH, *EXTRA, "errors")
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|FATAL|Traceback|Unrecoverable|exited with code|"
                        r"killed by)\b")
# `up` stopping a process on request is no error: a clean exit, or the SIGTERM it was sent.
CLEAN_STOP = re.compile(r"\bstopped \((exited with code 0|killed by SIGTERM)\)")
POLL_SECONDS = 0.25


def _files(home: Path, source: str) -> dict[str, Path]:
    logs = home / "logs"
    if source in ("all", "errors"):
        found = {name: logs / f"{name}.log" for name in (*PROCESSES, SEARCH)}
        if source == "errors":
            found["cli"] = logs / "cli-errors.log"
        return {name: path for name, path in found.items() if path.exists()}
    if source in EXTRA:
        folder, name = EXTRA[source]
        path = home / folder / name
    else:
        path = logs / f"{source}.log"
    return {source: path} if path.exists() else {}


def _tail(path: Path, count: int, end: int) -> list[str]:
    """The last `count` complete lines before byte `end` (where a follow starts)."""
    lines: deque[bytes] = deque(maxlen=count)
    read = 0
    with path.open("rb") as handle:
        for raw in handle:
            read += len(raw)
            if read > end:
                break
            lines.append(raw)
    return [raw.decode("utf-8", errors="replace") for raw in lines]


def _ends(files: dict[str, Path]) -> dict[str, int]:
    """Where each file's last complete line ends: the tail is read up to there and a follow
    goes on from there, so a line written while the tail is read is followed, not lost."""
    return {name: _last_line_end(path) for name, path in files.items()}


def _last_line_end(path: Path, block: int = 4096) -> int:
    with path.open("rb") as handle:
        position = handle.seek(0, 2)
        while position > 0:
            start = max(0, position - block)
            handle.seek(start)
            newline = handle.read(position - start).rfind(b"\n")
            if newline >= 0:
                return start + newline + 1
            position = start
    return 0


def _entries(name: str, lines: list[str], errors_only: bool) -> list[dict[str, Any]]:
    from joelclaw.supervisor.logfiles import parse_line

    out = []
    for line in lines:
        ts, text = parse_line(line)
        if errors_only and (not ERROR_LINE.search(text) or CLEAN_STOP.search(text)):
            continue
        out.append({"process": name, "ts": ts, "text": text})
    return out


@command("logs")
@click.argument("source", required=False, default="all", type=click.Choice(SOURCES))
@click.option("-n", "--lines", "count", type=click.IntRange(1, 10000), default=50,
              show_default=True, help="How many of the last lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (NDJSON when piped).")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Stop following after this many seconds (default: until Ctrl-C).")
def logs(session: Session, source: str, count: int, follow: bool,
         timeout: float | None) -> Reply:
    """Tail (and follow) the logs `joelclaw up` writes per process; `errors` across all."""
    home = session.settings.home_dir
    files = _files(home, source)
    if not files:
        where = home / "logs"
        raise Failure(f"no {source} log under {where}", "LOG_MISSING",
                      "Start the system with `joelclaw up`: it writes one file per process "
                      f"to {where} (processes started another way log where their runner "
                      "puts them).", next_actions=[action("up", "start the system")])
    errors_only = source == "errors"
    scan = count * 20 if errors_only else count
    ends = _ends(files)
    entries = [e for name, path in files.items()
               for e in _entries(name, _tail(path, scan, ends[name]), errors_only)]
    entries.sort(key=lambda e: e["ts"] or 0)
    entries = entries[-count:]
    result: dict[str, Any] = {"source": source, "files": {n: str(p) for n, p in files.items()},
                              "lines": entries}
    if follow:
        stream = Stream(session.out)
        for entry in entries:
            stream.emit("log", _line(entry), **entry)
        result["followed"] = _follow(stream, files, ends, errors_only, timeout)
        result["lines"] = []  # already streamed
    actions = [action("logs errors", "only error lines, all processes"),
               action(f"logs {source} --follow", "keep watching")]
    return Reply(result, _render, actions)


def _follow(stream: Stream, files: dict[str, Path], offsets: dict[str, int],
            errors_only: bool, timeout: float | None) -> int:
    """Stream lines appended after `offsets`; returns how many were streamed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    streamed = 0
    try:
        while deadline is None or time.monotonic() < deadline:
            for name, path in files.items():
                for entry in _entries(name, _read_new(path, offsets, name), errors_only):
                    stream.emit("log", _line(entry), **entry)
                    streamed += 1
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        pass
    return streamed


def _read_new(path: Path, offsets: dict[str, int], name: str) -> list[str]:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return []
    if size < offsets[name]:  # rotated: start the new file from its beginning
        offsets[name] = 0
    if size == offsets[name]:
        return []
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        handle.seek(offsets[name])
        data = handle.read()
    complete = data[:data.rfind("\n") + 1]
    offsets[name] += len(complete.encode("utf-8", errors="replace"))
    return complete.splitlines()


def _line(entry: dict[str, Any]) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(entry["ts"])) if entry["ts"] else "--:--:--"
    return f"{click.style(stamp, dim=True)} {click.style(entry['process'].ljust(7), bold=True)} " \
           f"{entry['text']}"


def _render(result: dict[str, Any]) -> str:
    if "followed" in result:
        return click.style(f"followed: {result['followed']} new line(s)", dim=True)
    return "\n".join(_line(e) for e in result["lines"]) or click.style("(no lines)", dim=True)
