"""`joelclaw watch`: follow runs live as they start, move through their steps and finish.

Polls the run index for runs created since the watch began (or follows one `--run`), and each
active run's record and steps, printing only what changed: `progress` lines for run status,
`step` lines for step status (NDJSON when piped, the last line the envelope)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from joelclaw import keys
from joelclaw.bus.records import TERMINAL
from joelclaw.cli.app import DURATION, Session, command
from joelclaw.cli.output import Failure, Reply, action, fmt_ms
from joelclaw.cli.streaming import Stream
from joelclaw.errors import NotFound
from joelclaw.events import index_backlog

if TYPE_CHECKING:
    from joelclaw.bus.records import Run
    from joelclaw.runtime import Runtime

POLL_SECONDS = 0.3
NEW_PER_POLL = 200


class Watcher:
    """What was last seen of each watched run, so only changes are reported."""

    def __init__(self, rt: Runtime, stream: Stream, *, function: str | None,
                 event_name: str | None):
        self.rt, self.stream = rt, stream
        self.function, self.event_name = function, event_name
        self.runs: dict[str, Run] = {}
        self.steps: dict[str, str] = {}
        self.finished: list[str] = []
        self.seen: set[str] = set()  # every id looked at, filtered out or not

    def discover(self, since_ms: float) -> float:
        """Start watching runs created after `since_ms`; returns the newest score seen."""
        index_backlog.catch_up(self.rt.redis)
        index = keys.runs_of_function(self.function) if self.function else keys.RUN_INDEX
        found = self.rt.redis.zrangebyscore(index, since_ms, "+inf", start=0,
                                            num=NEW_PER_POLL, withscores=True)
        for raw, score in found:
            run_id = raw.decode()
            if run_id not in self.seen:
                self.seen.add(run_id)
                self.track(run_id)
            since_ms = max(since_ms, score)
        return since_ms

    def track(self, run_id: str) -> None:
        self.seen.add(run_id)
        run = self.rt.runs.get(run_id)
        if run is None or (self.event_name and run.event.get("name") != self.event_name):
            return
        self.runs[run_id] = run
        self.stream.emit("progress", _run_line(run), run=run.summary())
        self.poll_one(run_id)

    def poll(self) -> None:
        active = [r for r, run in self.runs.items() if run.status not in TERMINAL]
        for run_id in active:
            self.poll_one(run_id)

    def poll_one(self, run_id: str) -> None:
        run = self.rt.runs.get(run_id)
        if run is None:
            return
        for record in self.rt.runs.steps(run_id):
            key = f"{run_id}|{record.key}"
            state = f"{record.status}:{record.attempts}"
            if self.steps.get(key) != state:
                self.steps[key] = state
                step = record.fields()
                self.stream.emit("step", _step_line(run, step), run=run_id,
                                 function=run.function, step=_step_view(step))
        previous = self.runs.get(run_id)
        self.runs[run_id] = run
        if previous is not None and previous.status != run.status:
            self.stream.emit("progress", _run_line(run), run=run.summary())
        if run.status in TERMINAL and run_id not in self.finished:
            self.finished.append(run_id)


@command("watch")
@click.option("--function", "function_id", default=None, help="Only runs of this function.")
@click.option("--event", "event_name", default=None, help="Only runs of this event name.")
@click.option("--run", "run_id", default=None, help="Follow this one run until it ends.")
@click.option("--since", type=DURATION, default=None,
              help="Also follow runs created this long before now, e.g. 5m.")
@click.option("--count", type=click.IntRange(min=1), default=None,
              help="Stop once this many watched runs have finished.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Stop after this many seconds (default: until Ctrl-C).")
def watch(session: Session, function_id: str | None, event_name: str | None,
          run_id: str | None, since: float | None, count: int | None,
          timeout: float | None) -> Reply:
    """Follow runs live: starts, steps, finishes (NDJSON when piped, text on a terminal)."""
    rt = session.runtime()
    if run_id is not None and rt.runs.get(run_id) is None:
        raise NotFound(f"no run with id {run_id!r}")
    stream = Stream(session.out)
    watcher = Watcher(rt, stream, function=function_id, event_name=event_name)
    began = time.time()
    stream.emit("start", _start_line(function_id, event_name, run_id), at=began,
                filters={"function": function_id, "event": event_name, "run": run_id})
    if run_id is not None:
        watcher.track(run_id)
    cursor = (began - (since or 0)) * 1000
    deadline = None if timeout is None else time.monotonic() + timeout
    stopped = "interrupted"
    try:
        while True:
            if run_id is None:
                cursor = watcher.discover(cursor)
            watcher.poll()
            if run_id is not None and run_id in watcher.finished:
                stopped = "run finished"
                break
            if count is not None and len(watcher.finished) >= count:
                stopped = "count reached"
                break
            if deadline is not None and time.monotonic() >= deadline:
                stopped = "timeout"
                break
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        pass
    result = {"stopped": stopped, "watched": len(watcher.runs),
              "finished": len(watcher.finished),
              "runs": [r.summary() for r in watcher.runs.values()]}
    _check_followed(result, run_id, watcher)
    return Reply(result, _render, [action("runs --since 10m", "the runs of the last minutes")])


def _check_followed(result: dict[str, Any], run_id: str | None, watcher: Watcher) -> None:
    followed = watcher.runs.get(run_id) if run_id else None
    if followed is not None and followed.status == "failed":
        message = (followed.error or {}).get("message", "no error recorded")
        raise Failure(f"run {run_id} failed: {message}", "RUN_FAILED",
                      f"Inspect it with `joelclaw run {run_id}`.", result=result,
                      next_actions=[action(f"run {run_id}", "trace of the failed run")])


def _start_line(function: str | None, event: str | None, run_id: str | None) -> str:
    what = f"run {run_id}" if run_id else "new runs" + (f" of {function}" if function else "") \
        + (f" for {event}" if event else "")
    return click.style(f"watching {what} (Ctrl-C to stop)", dim=True)


def _stamp() -> str:
    return click.style(time.strftime("%H:%M:%S"), dim=True)


def _run_line(run: Run) -> str:
    took = f" ({fmt_ms(run.duration_ms)})" if run.duration_ms is not None else ""
    error = f": {run.error.get('message')}" if run.error and run.status == "failed" else ""
    return f"{_stamp()} {click.style(run.function, bold=True)} {run.id} {run.status}{took}{error}"


def _step_view(step: dict[str, Any]) -> dict[str, Any]:
    keep = ("key", "type", "status", "attempts", "started_at", "ended_at", "execution_ms",
            "until", "next_attempt_at")
    view = {k: step.get(k) for k in keep if step.get(k) is not None}
    if step.get("error"):
        view["error"] = {k: step["error"].get(k) for k in ("name", "message")}
    return view


def _step_line(run: Run, step: dict[str, Any]) -> str:
    detail = ""
    if step.get("status") == "completed" and step.get("execution_ms") is not None:
        detail = f" ({fmt_ms(step['execution_ms'])})"
    elif step.get("error") and step.get("status") in ("retrying", "failed"):
        detail = f" ({step['error'].get('name')}: {step['error'].get('message')})"
    return f"{_stamp()}   {run.function} · step {step.get('key')}: {step.get('status')}{detail}"


def _render(result: dict[str, Any]) -> str:
    return click.style(f"{result['stopped']}: watched {result['watched']} run(s), "
                       f"{result['finished']} finished", dim=True)
