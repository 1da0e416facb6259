"""`status`, `send` and `functions`: is the system up, put an event on the bus, what can run."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from joelclaw.bus.records import TERMINAL
from joelclaw.cli import render
from joelclaw.cli.app import JSON_OBJECT, Session, command
from joelclaw.cli.output import Failure, NextAction, Output, Reply, action, fmt_ms, fmt_time

if TYPE_CHECKING:
    from joelclaw.config import Settings
    from joelclaw.runtime import Runtime

FOLLOW_POLL_SECONDS = 0.25
STATUS_RUNS = 1000  # `status` counts the newest runs by status (and says so past this many)
MISSING = "missing"  # a followed run whose record is gone (expired or deleted)
PARKED = frozenset({"sleeping", "waiting"})  # durable: no worker held, resumes on its own
SUMMARY = ("id", "function", "status", "trigger", "event_name", "event_id", "created_at",
           "started_at", "ended_at", "duration_ms", "attempts", "queue_delay_ms",
           "execution_ms")


# ---- status -------------------------------------------------------------------------------

@command("status", reads=True)
def status(session: Session) -> Reply:
    """The health report (as GET /health), queue depths, pending wake-ups and runs by status."""
    from joelclaw import health
    from joelclaw.bus.celery import queues as broker_queues
    from joelclaw.bus.records import wakeups
    from joelclaw.runtime import redact_url

    rt = session.runtime()
    rt.redis.ping()  # unreachable Redis fails the command with its fix, not a report
    report = health.check(rt)
    components = report["components"]
    result = {
        "ok": report["ok"], "status": report["status"], "failing": report["failing"],
        "degraded": report["degraded"],
        "redis": {**components["redis"], "url": redact_url(rt.redis_url)},
        "broker": redact_url(rt.broker_url),
        "functions": len(rt.registry),
        "workers": components["workers"],
        "beat": components["beat"],
        "gateway": components["gateway"],
        "queues": broker_queues.totals(broker_queues.depths(rt)),
        "wakeups_pending": wakeups.pending(rt.redis),
        "runs": rt.runs.counts(limit=STATUS_RUNS),
        "runs_counted": {"newest": STATUS_RUNS, "stored": rt.runs.stored()},
    }
    if "typesense" in components:
        result["typesense"] = components["typesense"]
    if "providers" in components:  # the circuit breakers (joelclaw.coordination.breakers)
        result["providers"] = components["providers"]
    from joelclaw.coordination.budgets import asks

    result["budget_asks"] = asks(rt)  # runs waiting at an effect budget for the owner's answer
    result["logins"] = _login_sources(rt.settings)
    return Reply(result, render.render_status, _status_actions(result))


def _login_sources(settings: Settings) -> dict[str, str]:
    """Where the owner finds each login (the setting that holds it, or the file `up` generated),
    never its value: the key names avoid the words that redaction blanks."""
    from joelclaw import credentials

    return {
        "web": ("JOELCLAW_API_TOKEN" if settings.web.api_token
                      else str(credentials.api_token_file(settings))),
        "flower": ("JOELCLAW_FLOWER_USER/_PASSWORD" if settings.flower.user
                   else str(credentials.flower_file(settings))),
    }


def _status_actions(result: dict[str, Any]) -> list[NextAction]:
    from joelclaw import health

    actions = [action("runs", "recent runs"), action("queues", "queue depths"),
               action("schedule", "cron entries and durable wake-ups")]
    if not result["workers"]["roles"][health.WORKER]["alive"]:
        actions.insert(0, action("up", "no worker is alive: start the system"))
    if result["runs"].get("failed"):
        actions.insert(0, action("runs --status failed", "look at the failed runs"))
    return actions


# ---- send ---------------------------------------------------------------------------------

@command("send")
@click.argument("name")
@click.option("-d", "--data", type=JSON_OBJECT, default=None,
              help="Event data: a JSON object, or @file.json.")
@click.option("--id", "event_id", default=None,
              help="Idempotency key: the same id within 24 h triggers nothing new.")
@click.option("--follow", is_flag=True,
              help="Wait for the started (and resumed) runs to finish or park in a durable "
                   "sleep or wait, with progress on stderr.")
@click.option("--timeout", type=click.FloatRange(min=0), default=120.0, show_default=True,
              help="Seconds --follow waits before giving up.")
def send(session: Session, name: str, data: dict[str, Any] | None, event_id: str | None,
         follow: bool, timeout: float) -> Reply:
    """Send an event; every function it triggers starts a run."""
    from joelclaw.events.schemas import parse_event

    raw: dict[str, Any] = {"name": name, "data": data or {}, "source": {"via": "cli"}}
    if event_id is not None:
        raw["id"] = event_id
    event = parse_event(raw)
    rt = session.runtime()
    sent = rt.send(event)[0]
    result: dict[str, Any] = sent.to_dict()
    if follow and (sent.runs or sent.resumed):
        watched = list(dict.fromkeys([*sent.runs, *sent.resumed]))
        followed, timed_out = follow_runs(rt, watched, timeout, session.out)
        result["followed"] = followed
        check_followed(result, timed_out, timeout)
    return Reply(result, render.render_send, _send_actions(result))


def _send_actions(result: dict[str, Any]) -> list[NextAction]:
    actions = [action(f"run {run_id}", "trace of this run")
               for run_id in [*result["runs"], *result.get("resumed", [])][:3]]
    actions.append(action(f"event {result['id']}", "the stored event and its runs"))
    actions.append(action(f"runs --event {result['name']}", "every run of this event name"))
    return actions


def follow_runs(rt: Runtime, run_ids: list[str], timeout: float, out: Output
                ) -> tuple[list[dict[str, Any]], bool]:
    """Poll until every run is terminal or parked in a durable sleep or wait (healthy: it holds
    no worker and resumes on its own), or `timeout` passes; report each change on stderr."""
    deadline = time.monotonic() + timeout
    reported: dict[str, str] = {}
    out.progress(f"following {len(run_ids)} run(s) for up to {timeout:g}s")
    while True:
        states = [_observe(rt, run_id, reported, out) for run_id in run_ids]
        if all(_settled(s) for s in states):
            return states, False
        if time.monotonic() >= deadline:
            return states, True
        time.sleep(FOLLOW_POLL_SECONDS)


def _observe(rt: Runtime, run_id: str, reported: dict[str, str], out: Output
             ) -> dict[str, Any]:
    from joelclaw.insight.trace import run_trace

    trace = run_trace(rt, run_id)  # steps settled: a wait matched just now is not waiting
    if trace is None:
        _report(out, reported, run_id, f"{run_id}: {MISSING}")
        return {"id": run_id, "status": MISSING}
    for step in trace["steps"]:
        key = f"{run_id}|{step.get('key')}"
        _report(out, reported, key, f"{trace['function']} · step {step.get('key')}: "
                f"{step.get('status')}{_step_detail(step)}")
    parked = _parked(trace["steps"]) if trace["status"] in PARKED else None
    _report(out, reported, run_id, f"{trace['function']} · {run_id}: {trace['status']}"
            + (f" ({parked['text']})" if parked else ""))
    error = trace.get("error")
    state = {k: trace[k] for k in SUMMARY if k in trace}
    state.update(output=trace.get("output"),
                 error={k: v for k, v in error.items() if k != "stack"} if error else None)
    if parked:
        state["parked"] = parked
    elif state["status"] in PARKED:  # resumed, not run yet: it goes on by itself shortly
        state["resuming"] = True
    return state


def _settled(state: dict[str, Any]) -> bool:
    """Where --follow may stop: the run ended, or it is parked in a durable sleep or wait."""
    return state["status"] in TERMINAL or state["status"] == MISSING or "parked" in state


def _parked(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Where a sleeping or waiting run is parked, and until when."""
    for step in steps:
        if step.get("status") == "sleeping" and step.get("until"):
            return {"step": step["key"], "until": step["until"],
                    "text": f"sleeping in step {step['key']} until {fmt_time(step['until'])}"}
        if step.get("status") == "waiting":
            wait = step.get("wait") or {}
            what = f"for {wait['event']}" if wait.get("event") else "for its answer"
            until = wait.get("expires") or step.get("expires")
            return {"step": step["key"], "until": until,
                    "text": f"waiting in step {step['key']} {what}"
                            + (f" until {fmt_time(until)}" if until else "")}
    return None


def _step_detail(step: dict[str, Any]) -> str:
    if step.get("status") == "completed" and step.get("execution_ms") is not None:
        return f" ({fmt_ms(step['execution_ms'])})"
    error = step.get("error")
    if error and step.get("status") in ("retrying", "failed"):
        return f" ({error.get('name')}: {error.get('message')})"
    return ""


def _report(out: Output, reported: dict[str, str], key: str, line: str) -> None:
    """Print a line only when that run or step changed, so the stream stays short."""
    if reported.get(key) != line:
        reported[key] = line
        out.progress(line)


def check_followed(result: dict[str, Any], timed_out: bool, timeout: float) -> None:
    """A followed run that failed, or did not finish in time, fails the command (exit 1)."""
    followed = result["followed"]
    failed = [r for r in followed if r["status"] == "failed"]
    if failed:
        first = failed[0]
        reason = (first.get("error") or {}).get("message", "no error recorded")
        raise Failure(f"{len(failed)} of {len(followed)} run(s) failed; {first['function']}: "
                      f"{reason}", "RUN_FAILED",
                      f"Inspect it with `joelclaw run {first['id']}`, then "
                      f"`joelclaw replay {first['id']}` once fixed.", result=result,
                      next_actions=[action(f"run {first['id']}", "trace of the failed run")])
    if timed_out:
        pending = [r["id"] for r in followed if not _settled(r)]
        raise Failure(f"{len(pending)} run(s) not finished after {timeout:g}s: "
                      f"{', '.join(pending)}", "FOLLOW_TIMEOUT",
                      f"Keep watching with `joelclaw run {pending[0]}`; a longer --timeout "
                      "waits more.", result=result,
                      next_actions=[action(f"run {pending[0]}", "where this run is now")])


# ---- functions ----------------------------------------------------------------------------

@command("functions", reads=True)
def functions(session: Session) -> Reply:
    """Every loaded function: its task, triggers, queue, retries, flow options, and its runs of
    the last 24 h (count, failures, p50/p95, last run) when Redis is reachable."""
    rt = session.runtime(redis_needed=False)
    default = rt.settings.runs.default_retries
    stats, paused = _recent_stats(session)
    result = [{"id": fn.id, "task": fn.task_name,
               "triggers": [trig.describe() for trig in fn.triggers],
               "queue": fn.queue, "retries": default if fn.retries is None else fn.retries,
               "description": fn.description, "flow": sorted(fn.options),
               "paused": paused.get(fn.id) if paused is not None else None,
               "recent": stats.get(fn.id) if stats is not None else None}
              for fn in rt.registry]
    actions = [action("runs --function <id>", "runs of one function"),
               action("schedule", "when the cron functions fire next")]
    if stats is None:
        actions.insert(0, action("status", "Redis is not reachable: no run counts"))
    return Reply(result, render.render_functions, actions)


def _recent_stats(session: Session) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Per-function run statistics and pauses, or None when Redis is not reachable (listing
    still works)."""
    from joelclaw.bus.control import paused
    from joelclaw.insight.functions import recent_stats

    try:
        rt = session.runtime()
        return {fn.id: stats for fn, stats in recent_stats(rt)}, paused(rt)
    except Failure:
        return None, None
    except Exception as exc:
        if isinstance(exc, _redis_errors()):
            return None, None
        raise


def _redis_errors() -> tuple[type[Exception], ...]:
    from joelclaw.redisconn.errors import errors

    return errors()


# ---- pause / resume ----------------------------------------------------------------------

@command("pause")
@click.argument("function_id")
@click.option("--reason", default=None, help="Shown with the pause (explain, dashboard).")
def pause(session: Session, function_id: str, reason: str | None) -> Reply:
    """Pause a function: its new and woken runs queue but do not start until `resume`; crons
    keep firing and waits keep their place."""
    from joelclaw.bus.control import pause as pause_function

    result = pause_function(session.runtime(), function_id, by="owner (cli)", reason=reason)
    return Reply(result, lambda r: f"{r['function']}: paused ({r['parked']} run(s) waiting)",
                 [action(f"resume {function_id}", "start its runs again"),
                  action(f"runs --function {function_id}", "its runs")])


@command("resume")
@click.argument("function_id")
def resume(session: Session, function_id: str) -> Reply:
    """Resume a paused function: the runs that queued meanwhile start, oldest first."""
    from joelclaw.bus.control import resume as resume_function

    result = resume_function(session.runtime(), function_id)
    text = (f"{result['function']}: resumed, {result['released']} run(s) started"
            if result["was_paused"] else f"{result['function']} was not paused")
    return Reply(result, lambda _r: text,
                 [action(f"runs --function {function_id}", "its runs")])
