"""`runs`, `run`, `events`, `event`, `cancel`, `replay`: what happened, and manual control."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from joelclaw.bus.records import STATUSES, TERMINAL
from joelclaw.cli import render
from joelclaw.cli.app import DURATION, Session, command
from joelclaw.cli.output import Failure, NextAction, Reply, action
from joelclaw.errors import NotFound

if TYPE_CHECKING:
    from joelclaw.bus.records import Run
    from joelclaw.runtime import Runtime

LIMIT = click.IntRange(1, 1000)


def _since(seconds: float | None) -> float | None:
    return None if seconds is None else time.time() - seconds


def summaries(rt: Runtime, runs: list[Run]) -> list[dict[str, Any]]:
    counts = rt.runs.step_counts([r.id for r in runs])
    return [{**run.summary(), "replay_of": run.replay_of, "steps": n}
            for run, n in zip(runs, counts, strict=True)]


# ---- runs / run ---------------------------------------------------------------------------

@command("runs", reads=True)
@click.option("--function", "function_id", default=None, help="Only runs of this function id.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
              help="Only runs in this status (repeatable).")
@click.option("--since", type=DURATION, default=None,
              help="Only runs created within this long, e.g. 30m, 1h, 2d.")
@click.option("--event", "event_name", default=None, help="Only runs of this event name.")
@click.option("--limit", type=LIMIT, default=20, show_default=True)
def runs(session: Session, function_id: str | None, statuses: tuple[str, ...],
         since: float | None, event_name: str | None, limit: int) -> Reply:
    """Recent runs, newest first, filtered by function, status, time and event."""
    rt = session.runtime()
    found = rt.runs.list(function=function_id, status=statuses or None, since=_since(since),
                         event_name=event_name, limit=limit)
    result = summaries(rt, found)
    actions = [action(f"run {r['id']}", f"trace of this {r['status']} run") for r in result[:2]]
    if "failed" not in statuses:
        actions.append(action("runs --status failed", "only failed runs"))
    return Reply(result, render.render_runs, actions)


@command("run", reads=True)
@click.argument("run_id")
def run(session: Session, run_id: str) -> Reply:
    """One run's full trace: steps, attempts, queue delay vs execution, errors."""
    from joelclaw.insight.trace import run_trace

    rt = session.runtime()
    trace = run_trace(rt, run_id)
    if trace is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after "
                       f"{rt.settings.runs.retention_days:g} days)")
    return Reply(trace, render.render_trace, _run_actions(trace))


def _run_actions(trace: dict[str, Any]) -> list[NextAction]:
    run_id = trace["id"]
    actions = []
    if trace["status"] not in TERMINAL:
        actions.append(action(f"cancel {run_id}", "stop this run"))
    actions.append(action(f"replay {run_id}", "a new run of the same function and event"))
    if trace.get("event_id"):
        actions.append(action(f"event {trace['event_id']}", "the event that started it"))
    actions.append(action(f"runs --function {trace['function']}", "other runs of this function"))
    return actions


# ---- events / event -----------------------------------------------------------------------

@command("events", reads=True)
@click.option("--name", default=None, help="Only events with exactly this name.")
@click.option("--prefix", default=None, help="Only events whose name starts with this.")
@click.option("--since", type=DURATION, default=None,
              help="Only events received within this long, e.g. 30m, 1h, 2d.")
@click.option("--limit", type=LIMIT, default=20, show_default=True)
def events(session: Session, name: str | None, prefix: str | None, since: float | None,
           limit: int) -> Reply:
    """Recent events from the capped log, newest first."""
    from joelclaw.events.store import list_events

    rt = session.runtime()
    result = list_events(rt.redis, name=name, prefix=prefix, since=_since(since), limit=limit)
    actions = [action(f"event {r['event']['id']}", f"details of this {r['event']['name']}")
               for r in result[:2]]
    actions.append(action("send <name> -d '{...}'", "send an event"))
    return Reply(result, render.render_events, actions)


@command("event", reads=True)
@click.argument("event_id")
def event(session: Session, event_id: str) -> Reply:
    """One stored event, the runs it started and how often it was sent again."""
    from joelclaw.events.store import get_event

    rt = session.runtime()
    record = get_event(rt.redis, event_id)
    if record is None:
        raise NotFound(f"no event with id {event_id!r} (events are kept 7 days, and the "
                       f"log holds the latest {rt.settings.runs.event_log_cap})")
    found = [rt.runs.get(run_id) for run_id in record.get("runs", [])]
    run_rows = summaries(rt, [r for r in found if r is not None])
    known = {r["id"] for r in run_rows}
    run_rows += [{"id": run_id, "status": "expired"} for run_id in record.get("runs", [])
                 if run_id not in known]
    result = {"event": record["event"], "received_at": record.get("received_at"),
              "duplicates": record.get("duplicates", 0), "runs": run_rows,
              "deduplicated": record.get("deduplicated") or {},
              "forgotten": record.get("forgotten")}
    actions = [action(f"run {r['id']}", "trace of this run") for r in run_rows[:3]]
    actions.append(action(f"events --name {record['event']['name']}", "events of this name"))
    return Reply(result, render.render_event, actions)


# ---- cancel / replay (one run, or in bulk by filter) ------------------------------------------

def _bulk_filters(command_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The filter options `cancel` and `replay` share for bulk actions."""
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed([
            click.option("--function", "function_id", default=None,
                         help=f"Bulk: {command_name} runs of this function id."),
            click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES),
                         help=f"Bulk: {command_name} runs in this status (repeatable)."),
            click.option("--since", type=DURATION, default=None,
                         help=f"Bulk: {command_name} runs created within this long, e.g. 1h."),
            click.option("--until", "until_ago", type=DURATION, default=None,
                         help="Bulk: only runs created at least this long ago."),
            click.option("--event", "event_name", default=None,
                         help="Bulk: only runs of this event name."),
            click.option("--limit", type=LIMIT, default=100, show_default=True,
                         help="Bulk: at most this many runs."),
            click.option("--yes", "-y", is_flag=True,
                         help="Bulk: do not ask (required in JSON mode, which never asks)."),
        ]):
            fn = opt(fn)
        return fn
    return decorate


def _selection(run_id: str | None, filters: dict[str, Any]) -> Any:
    """None for a single-run command; the bulk selection otherwise."""
    from joelclaw.bus.control import Selection

    bulk = any(filters[k] for k in ("function_id", "statuses", "since", "until_ago",
                                    "event_name"))
    if run_id is not None and bulk:
        raise click.UsageError("give a run id or filters (--function/--status/--since), not both")
    if run_id is not None:
        return None
    if not bulk:
        raise click.UsageError("give a run id, or filters for a bulk action")
    return Selection(function=filters["function_id"], statuses=list(filters["statuses"]),
                     since=_since(filters["since"]), until=_since(filters["until_ago"]),
                     event=filters["event_name"], limit=filters["limit"])


def _bulk(session: Session, action_name: str, selection: Any, yes: bool) -> Reply:
    """Count, ask (a terminal) or require --yes (JSON mode, a pipe), then act with progress."""
    import sys

    from joelclaw.bus.control import bulk

    rt = session.runtime()
    try:
        seen = bulk.preview(rt, action_name, selection)
    except bulk.BulkError as exc:
        raise Failure(str(exc), exc.code, "Change the filter: see `joelclaw "
                      f"{action_name} --help`.", 2) from None
    count = seen["count"]
    if count == 0:
        return Reply({"matched": 0, "preview": seen, "runs": []}, _render_bulk,
                     [action("runs", "recent runs")])
    what = f"{action_name} {count} run(s)" + (" (the --limit)" if seen["limited"] else "")
    if not yes:
        if session.out.json_mode or not sys.stdin.isatty():
            raise Failure(f"this would {what}: confirm with --yes (JSON mode and scripts are "
                          "never asked)", "CONFIRMATION_REQUIRED",
                          "Check the count, then run the same command with --yes.", 2,
                          result={"matched": count, "preview": seen})
        sample = ", ".join(r["id"] for r in seen["sample"][:3])
        if not click.confirm(f"{what.capitalize()} (e.g. {sample})?", default=False,
                             err=True):
            raise Failure("not confirmed: nothing was changed", "NOT_CONFIRMED",
                          "Run it again and answer yes, or add --yes.", 1)
    job = bulk.create(rt, action_name, selection, expect=count, by="cli")
    total, done = job["total"], [0]
    every = max(1, total // 10)

    def progress(_outcome: dict[str, Any]) -> None:
        done[0] += 1
        if done[0] % every == 0 or done[0] == total:
            session.out.progress(f"{action_name}: {done[0]}/{total}")

    finished = bulk.execute(rt, job["id"], progress)
    result = {"matched": count, "job": finished["id"], "counts": finished["counts"],
              "runs": finished["results"]}
    follow = "runs --status cancelled" if action_name == "cancel" else "runs --since 5m"
    return Reply(result, _render_bulk, [action(follow, f"the {action_name}ed runs")])


@command("cancel")
@click.argument("run_id", required=False)
@click.option("--reason", default="cancelled from the CLI", show_default=True,
              help="Recorded on the run and in joelclaw/function.cancelled.")
@_bulk_filters("cancel")
def cancel(session: Session, run_id: str | None, reason: str, yes: bool,
           **filters: Any) -> Reply:
    """Cancel a run (or runs by filter, after showing the count): at once when idle, else
    after its current step. Finished runs cannot be cancelled."""
    from joelclaw.bus.control import cancel_run

    selection = _selection(run_id, filters)
    if selection is not None:
        return _bulk(session, "cancel", selection, yes)
    rt = session.runtime()
    assert run_id is not None
    before = rt.runs.status(run_id)
    run = cancel_run(rt, run_id, reason)
    if before in TERMINAL:
        outcome = f"already {before}"
    elif run.status == "cancelled":
        outcome = "cancelled"
    else:
        outcome = "requested: the run stops after its current step"
    result = {**run.summary(), "cancel_requested": run.cancel_requested, "outcome": outcome}
    return Reply(result, _render_cancel, [action(f"run {run_id}", "check the run's status")])


def _render_cancel(result: dict[str, Any]) -> str:
    return render.render_run(result, outcome=result["outcome"])


def _render_bulk(result: dict[str, Any]) -> str:
    rows = [(r["id"], r["outcome"], r.get("new") or r.get("detail") or "")
            for r in result["runs"]]
    head = f"{result['matched']} run(s) matched"
    if result.get("counts"):
        head += ": " + ", ".join(f"{n} {k}" for k, n in sorted(result["counts"].items()))
    return head if not rows else head + "\n\n" + render.table(["run", "outcome", "new / detail"],
                                                                rows)


@command("replay")
@click.argument("run_id", required=False)
@_bulk_filters("replay")
def replay(session: Session, run_id: str | None, yes: bool, **filters: Any) -> Reply:
    """Start a new run of the same function and event (or for each run matching filters,
    after showing the count)."""
    from joelclaw.bus.control import replay_run

    selection = _selection(run_id, filters)
    if selection is not None:
        return _bulk(session, "replay", selection, yes)
    rt = session.runtime()
    assert run_id is not None
    new = replay_run(rt, run_id)
    result = {**new.summary(), "replay_of": new.replay_of}
    actions = [action(f"run {new.id}", "trace of the new run"),
               action(f"run {run_id}", "the original run")]
    return Reply(result, render.render_run, actions)


@command("wake")
@click.argument("run_id")
def wake(session: Session, run_id: str) -> Reply:
    """Wake a sleeping run now: its sleep ends early, recorded in the trace as woken by you."""
    from joelclaw.bus.control import wake_run

    woken = wake_run(session.runtime(), run_id, by="owner (cli)")
    return Reply(woken, lambda r: f"{r['id']}: step {r['step']} woken",
                 [action(f"run {run_id}", "watch it go on")])


@command("rerun")
@click.argument("run_id")
@click.option("--from-step", "from_step", default=None,
              help="Rerun from this step (default: the failed step); earlier steps are reused.")
def rerun(session: Session, run_id: str, from_step: str | None) -> Reply:
    """Rerun a failed run from its failed step: a new run that reuses the earlier steps."""
    from joelclaw.bus.control import rerun_run

    rt = session.runtime()
    new = rerun_run(rt, run_id, from_step)
    result = {**new.summary(), "replay_of": new.replay_of, "rerun_from": new.rerun_from}
    actions = [action(f"run {new.id}", "trace of the new run"),
               action(f"run {run_id}", "the original run")]
    return Reply(result, render.render_run, actions)
