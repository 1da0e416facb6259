"""One run's trace for a person: its header, the steps' waterfall, attempts, Celery tasks,
executions and errors."""

from __future__ import annotations

import time
from typing import Any

import click

from joelclaw.cli.output import fmt_age, fmt_ms, fmt_seconds, fmt_time, key_values, status, table
from joelclaw.cli.render.text import bold, dim, short_json
from joelclaw.insight import present

BAR_WIDTH = 24


def render_trace(trace: dict[str, Any]) -> str:
    parts = [_trace_header(trace), _steps_table(trace)]
    for section in (_attempts(trace), _tasks(trace), _executions(trace), _trace_errors(trace)):
        if section:
            parts.append(section)
    if trace.get("output") is not None:
        parts.append(f"{bold('output')}  {short_json(trace['output'], 600)}")
    return "\n\n".join(parts)


def _trace_header(t: dict[str, Any]) -> str:
    created = t["created_at"]
    fields: dict[str, Any] = {
        "run": f"{bold(t['id'])}  {t['function']}  {status(t['status'])}",
        "event": f"{t['event'].get('name')} {dim(str(t['event'].get('id')))}",
        "trigger": t["trigger"],
        "created": fmt_time(created),
        "started": _offset(t.get("started_at"), created),
        "ended": _offset(t.get("ended_at"), created),
        "time": f"queue {fmt_ms(t.get('queue_delay_ms'))} · "
                f"execution {fmt_ms(t.get('execution_ms'))} · total {fmt_ms(t.get('duration_ms'))}",
        "attempts": _attempts_line(t),
    }
    if t.get("replay_of"):
        fields["replay of"] = t["replay_of"]
    if t.get("parent"):
        fields["parent"] = f"{t['parent'].get('run')} step {t['parent'].get('step')}"
    if t.get("rerun_from"):
        fields["rerun from"] = t["rerun_from"]
    for index, hold in enumerate([*(t.get("holds") or []), *([t["held"]] if t.get("held")
                                                              else [])]):
        fields[f"held by #{index + 1}"] = hold_line(hold)
    return key_values(fields)


def _attempts_line(t: dict[str, Any]) -> str:
    """Executions, step attempts and function-level retries apart, each named for what it
    counts (one "attempts 0" beside a step tried three times said nothing true)."""
    retried = t.get("retried_steps") or []
    steps = f"step attempts {t.get('step_attempts', 0)}" + (
        f" (retried: {', '.join(retried)})" if retried else "")
    return (f"executions {t.get('executions', 0)} · {steps} · function-level retries "
            f"{t.get('function_retries', t.get('attempts', 0))} {dim('(errors outside steps)')}")


def hold_line(hold: dict[str, Any]) -> str:
    """One flow-control hold: which limit and key held the run, and for how long."""
    kind = hold.get("kind", "?")
    key = f" key {hold['key']!r}" if hold.get("key") else ""
    limit = (f"{hold.get('limit')} per {hold.get('period'):g}s" if kind == "throttle"
             else f"limit {hold.get('limit')}")
    since = hold.get("since")
    end = hold.get("released_at")
    span = (f"held {fmt_seconds(max(0.0, end - since))}" if since and end
            else f"since {fmt_time(since)}" if since else "")
    return f"{kind} {limit}{key} {dim(span)}".rstrip()


def _offset(moment: float | None, origin: float) -> str:
    if moment is None:
        return "-"
    return f"+{fmt_seconds(max(0.0, moment - origin))}  {dim(fmt_time(moment))}"


def _steps_table(t: dict[str, Any]) -> str:
    steps = t["steps"]
    if not steps:
        return dim("no steps recorded")
    origin = t["created_at"]
    end = max([origin + 0.001, *(_step_end(s) for s in steps), t.get("ended_at") or origin])
    rows = [(s.get("key"), s.get("type"), s.get("effect") or "-", _step_status(s),
             present.tries(s),
             _offset(s.get("started_at"), origin).split("  ")[0],
             fmt_ms(s.get("queue_delay_ms")), fmt_ms(s.get("execution_ms")),
             s.get("code_version") or "-", _bar(s, origin, end)) for s in steps]
    return table(["step", "type", "effect", "status", "tries", "start", "queue", "exec",
                  "code", "timeline"], rows)


def _step_end(step: dict[str, Any]) -> float:
    return step.get("ended_at") or step.get("started_at") or 0.0


def _step_status(step: dict[str, Any]) -> str:
    text = status(step.get("status"))
    if step.get("status") == "sleeping" and step.get("until"):
        text += dim(f" ({fmt_age(step['until'])})")
    if step.get("status") == "retrying" and step.get("next_attempt_at"):
        text += dim(f" (next {fmt_age(step['next_attempt_at'])})")
    if step.get("matched"):
        text += dim(f" (matched {step['matched'].get('name')} {step['matched'].get('id')})")
    elif step.get("timed_out"):
        text += dim(" (timed out)")
    return text


def _bar(step: dict[str, Any], origin: float, end: float) -> str:
    """Where the step sits on the run's timeline, Inngest-waterfall style."""
    started = step.get("started_at")
    if started is None:
        return ""
    span = end - origin
    start_col = int((started - origin) / span * BAR_WIDTH)
    stop = step.get("ended_at") or time.time()
    length = max(1, int((min(stop, end) - started) / span * BAR_WIDTH))
    length = min(length, BAR_WIDTH - min(start_col, BAR_WIDTH - 1))
    color = "red" if step.get("status") == "failed" else "green"
    return " " * min(start_col, BAR_WIDTH - 1) + click.style("█" * length, fg=color)


def _attempts(t: dict[str, Any]) -> str:
    """Each attempt of every step tried more than once (or that failed): when, where, why."""
    origin, lines = t["created_at"], []
    for step in t["steps"]:
        listed = step.get("attempt_list") or []
        if len(listed) < 2 and step.get("status") != "failed":
            continue
        for item in listed:
            head = f"{step.get('key')}" if item is listed[0] else ""
            err = item.get("error") or {}
            why = f"{err.get('name')}: {err.get('message')}" if err else ""
            lines.append(f"  {head:<16} #{item.get('attempt')} {status(item.get('status'))}  "
                         f"{present.known(item.get('worker'))}  "
                         f"{_offset(item.get('started_at'), origin).split('  ')[0]} → "
                         f"{_offset(item.get('ended_at'), origin).split('  ')[0]}  "
                         + click.style(why, fg="red"))
    return f"{bold('attempts')}\n" + "\n".join(lines) if lines else ""


def _tasks(t: dict[str, Any]) -> str:
    """The Celery tasks behind task and canvas steps, to look up in Flower."""
    lines = []
    for step in t["steps"]:
        for task in step.get("tasks") or ([step["task"]] if step.get("task") else []):
            where = f"  flower {task['flower']}" if task.get("flower") else ""
            lines.append(f"  {step.get('key'):<16} {task.get('name')}  {dim(str(task.get('id')))}"
                         f"  worker {present.known(task.get('worker'))}  deliveries "
                         f"{present.known(task.get('deliveries'))} (retries "
                         f"{present.known(task.get('retries'))}){where}")
    return f"{bold('celery tasks')}\n" + "\n".join(lines) if lines else ""


def _executions(t: dict[str, Any]) -> str:
    """Every execution of the run (each resume is one): where it ran and how it ended."""
    history = t.get("history") or []
    if len(history) < 2 and not any(h.get("error") for h in history):
        return ""
    origin = t["created_at"]
    lines = [f"  #{h.get('n')}  {present.known(h.get('worker'))}  "
             f"{_offset(h.get('started_at'), origin).split('  ')[0]} → "
             f"{_offset(h.get('ended_at'), origin).split('  ')[0]}  {present.outcome(h)}"
             + (click.style(f"  {h['error'].get('name')}: {h['error'].get('message')}", fg="red")
                if h.get("error") and h.get("outcome") != "failed" else "")
             for h in history]
    shown = len(history)
    more = t.get("executions", shown) - shown
    head = bold("executions") + (dim(f" (the last {shown}; {more} earlier)") if more > 0 else "")
    return head + "\n" + "\n".join(lines)


def _trace_errors(t: dict[str, Any]) -> str:
    """Each failed step's error and the run's, with the frames of the user's code (not
    joelclaw's own) where it was raised."""
    lines = []
    for step in t["steps"]:
        err = step.get("error")
        if err and step.get("status") in ("failed", "retrying"):
            lines.append(click.style(f"step {step.get('key')}: {err.get('name')}: "
                                     f"{err.get('message')}", fg="red"))
            lines.extend(dim("    " + line) for line in present.user_frames(err.get("stack")))
    run_error = t.get("error")
    if run_error:
        lines.append(click.style(f"run: {run_error.get('name')}: {run_error.get('message')}",
                                 fg="red", bold=True))
        lines.extend(dim("    " + line) for line in present.user_frames(run_error.get("stack")))
    return "\n".join(lines)
