"""Terminal views of command results: tables and a run waterfall a person can scan quickly.
JSON mode never comes here; these take the exact `result` the envelope would carry."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from joelclaw.cli.output import (
    fmt_age,
    fmt_ms,
    fmt_seconds,
    fmt_time,
    key_values,
    status,
    table,
)
from joelclaw.cli.render_guards import guard_lines
from joelclaw.insight import present

BAR_WIDTH = 24


def bold(text: str) -> str:
    return click.style(text, bold=True)


def dim(text: str) -> str:
    return click.style(text, dim=True)


def short_json(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


# ---- status / functions / send --------------------------------------------------------------

def _durability_line(found: dict[str, Any] | None) -> str:
    if not found:
        return dim("unknown")
    aof = ("unknown" if found["aof"] is None else
           f"on ({found['appendfsync'] or '?'})" if found["aof"] else "off")
    line = (f"AOF {aof}, maxmemory-policy {found['policy'] or '?'}; a crash loses "
            f"{found['loss_window']}")
    if found["evicting"] or found["aof"] is False:
        return click.style(line, fg="yellow")
    return line


def render_status(result: dict[str, Any]) -> str:
    redis_info, workers, beat = result["redis"], result["workers"], result["beat"]
    beat_text = ("never ticked" if beat["age_s"] is None
                 else f"last tick {fmt_seconds(beat['age_s'])} ago")
    runs = ", ".join(f"{status(k)} {v}" for k, v in sorted(result["runs"].items())) or "none"
    counted = result.get("runs_counted") or {}
    if counted.get("stored", 0) > counted.get("newest", 0):
        runs += dim(f" (the newest {counted['newest']} of {counted['stored']} stored; "
                    "`joelclaw functions` counts every run of the last 24 h)")
    health = status(result["status"]) + (f" (failing: {', '.join(result['failing'])})"
                                         if result["failing"] else "")
    if result["degraded"]:
        health += f" (degraded: {', '.join(result['degraded'])})"
    queues = ", ".join(f"{name} {depth}" for name, depth in result["queues"].items()) or "-"
    summary = key_values({
        "health": health,
        "redis": f"{click.style('ok', fg='green')} {redis_info['url']} "
                 f"({redis_info['latency_ms']:.1f} ms)",
        "durability": _durability_line(redis_info.get("durability")),
        "broker": result["broker"],
        "functions": result["functions"],
        "workers": _workers_line(workers),
        "gateway": _gateway_line(result["gateway"]),
        "beat": beat_text,
        "queues": queues,
        "wake-ups": f"{result['wakeups_pending']} pending",
        "runs": runs,
        **guard_lines(result.get("providers"), result.get("budget_asks")),
        **{f"{name} login": where for name, where in (result.get("logins") or {}).items()},
    })
    rows = [(w["hostname"], ", ".join(w["roles"]), status("alive") if w["alive"] else dim("stale"),
             f"{fmt_seconds(w['age_s'])} ago", ", ".join(w["queues"] or ["?"]))
            for w in workers["seen"]]
    if not rows:
        return summary
    return summary + "\n\n" + table(["node", "role", "state", "seen", "queues"], rows)


def _workers_line(workers: dict[str, Any]) -> str:
    """Each role apart: a live gateway worker never hides a dead main worker."""
    parts = []
    for role, info in workers["roles"].items():
        if info["status"] == "not_expected" and not info["stale"]:
            continue
        color = "green" if info["alive"] else "red"
        parts.append(click.style(f"{role} {info['alive']} alive", fg=color))
    return ", ".join(parts) + f" ({len(workers['seen'])} seen)"


def _gateway_line(gateway: dict[str, Any]) -> str:
    age = gateway.get("age_s")
    beat = f"heartbeat {fmt_seconds(age)} ago" if age is not None else "no heartbeat"
    return f"{status(gateway['status'])}, {beat}"


def render_functions(result: list[dict[str, Any]]) -> str:
    rows = [(bold(f["id"]) + (" " + status("paused") if f.get("paused") else ""),
             "; ".join(f["triggers"]), f["queue"], f["retries"],
             *_recent_cells(f.get("recent"))) for f in result]
    listing = table(["function", "triggers", "queue", "retries", "runs 24h", "running",
                     "failed", "body p50/p95", "waited p50/p95", "last run"], rows)
    window = next((f["recent"]["window"] for f in result if f.get("recent")), None)
    if window is None:
        return listing
    return listing + "\n" + dim(
        f"runs since {fmt_time(window['since'])} (every run, no sample); body = the function's "
        "own code, waited = queue and flow-control holds before it first ran; percentiles "
        "≈ ±9%")


def _recent_cells(recent: dict[str, Any] | None) -> tuple[str, ...]:
    if recent is None:
        return ("?", "?", "?", "?", "?", dim("Redis unreachable"))
    last = recent.get("last_run")
    last_text = f"{status(last['status'])} {fmt_age(last['created_at'])}" if last else dim("never")
    rate = recent.get("failure_rate")
    failed = f"{recent['failed']}" + (f" ({rate * 100:.0f}%)" if rate else "")
    durations = recent.get("durations") or {}
    return (str(recent["count"]), str(recent.get("in_progress", "?")), failed,
            _p50_p95(durations.get("body")), _p50_p95(durations.get("before_start")), last_text)


def _p50_p95(pair: dict[str, Any] | None) -> str:
    if not pair or pair.get("p50_ms") is None:
        return "-"
    return f"{fmt_ms(pair['p50_ms'])} / {fmt_ms(pair['p95_ms'])}"


def render_send(result: dict[str, Any]) -> str:
    head = f"{status(result['status'])} {bold(result['name'])} {dim(result['id'])}"
    resumed = result.get("resumed") or []
    if not result["runs"] and not resumed:
        note = "no new runs (duplicate id)" if result["status"] == "deduplicated" \
            else "no function is triggered by this event, and no run was waiting for it"
        return f"{head}\n{dim(note)}"
    followed = {r["id"]: r for r in result.get("followed", [])}
    notes = []
    if not result["runs"]:
        notes.append(dim("no function is triggered by this event"))
    if resumed:
        notes.append(f"resumed {len(resumed)} run(s) waiting for it")
    rows = [(run_id, "resumed" if run_id in resumed and run_id not in result["runs"]
             else "started", followed.get(run_id, {}).get("function", ""),
             status(followed[run_id]["status"]) if run_id in followed else
             status("queued" if run_id in result["runs"] else "resumed"),
             followed.get(run_id, {}).get("parked", {}).get("text", ""),
             fmt_ms(followed.get(run_id, {}).get("duration_ms")))
            for run_id in dict.fromkeys([*result["runs"], *resumed])]
    return "\n".join([head, *notes]) + "\n\n" + table(
        ["run", "how", "function", "status", "where", "duration"], rows)


# ---- runs and traces ------------------------------------------------------------------------

def render_runs(result: list[dict[str, Any]]) -> str:
    now = time.time()
    rows = [(r["id"], r["function"], status(r["status"]), r.get("event_name"),
             fmt_age(r["created_at"], now), fmt_ms(r.get("duration_ms")), r.get("steps", 0))
            for r in result]
    return table(["run", "function", "status", "event", "created", "duration", "steps"], rows)


def render_run(result: dict[str, Any], **extra: Any) -> str:
    """One run's summary; used after cancel and replay."""
    fields = {"run": bold(result["id"]), "function": result["function"],
              "status": status(result["status"]),
              "event": f"{result.get('event_name')} {dim(str(result.get('event_id')))}",
              "created": fmt_time(result["created_at"])}
    if result.get("replay_of"):
        fields["replay of"] = result["replay_of"]
    return key_values({**fields, **extra})


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


# ---- events -------------------------------------------------------------------------------

def render_events(result: list[dict[str, Any]]) -> str:
    now = time.time()
    rows = [(r["event"]["id"], r["event"]["name"], fmt_age(r.get("received_at"), now),
             len(r.get("runs", [])), r.get("duplicates", 0), short_json(r["event"]["data"], 50))
            for r in result]
    return table(["event", "name", "received", "runs", "dups", "data"], rows)


def render_event(result: dict[str, Any]) -> str:
    event = result["event"]
    head = key_values({
        "event": f"{bold(event['name'])} {dim(event['id'])}",
        "received": fmt_time(result.get("received_at")),
        "duplicates": result.get("duplicates", 0),
        **{f"dedupe {fn}": f"no run: duplicates run {link['run']} (event {link.get('event')}, "
                          f"{link.get('kind')})"
           for fn, link in (result.get("deduplicated") or {}).items()},
        **({"forgotten": f"{fmt_time(result['forgotten'].get('at'))}: "
                         f"{result['forgotten'].get('reason')}"}
           if result.get("forgotten") else {}),
        "data": short_json(event.get("data"), 600),
    })
    rows = [(r["id"], r.get("function"), status(r["status"]), fmt_ms(r.get("duration_ms")))
            for r in result["runs"]]
    return head + "\n\n" + table(["run", "function", "status", "duration"], rows)


# ---- schedule and queues ------------------------------------------------------------------

def render_schedule(result: dict[str, Any]) -> str:
    rows = [(c["function"], c["expression"], c["timezone"], c["next_local"] or "-",
             c["next_utc"] or "-", fmt_age(c["next_epoch"]) if c["next_epoch"] else "-",
             _catch_up_cell(c)) for c in result["crons"]]
    crons = table(["function", "cron", "timezone", "next (local)", "next (utc)", "in",
                   "catch-up"], rows)
    wake = result["wakeups"]
    due = [(w["member"], w.get("function") or "-", w["due_utc"], fmt_age(w["due_at"]))
           for w in wake["next"]]
    wake_text = f"{bold('durable wake-ups')}: {wake['pending']} pending"
    if due:
        wake_text += "\n" + table(["member", "function", "due (utc)", "due"], due)
    absences = [(a["function"], a["event"] or "?", a["key"] or "-",
                 fmt_age(a["due_at"]) if a["due_at"] else "fired " + fmt_age(a["fired_at"]))
                for a in result.get("absences") or []]
    if absences:
        crons += "\n\n" + bold("absence watches") + "\n" + table(
            ["function", "no event", "key", "fires"], absences)
    return crons + "\n\n" + wake_text


def _catch_up_cell(cron: dict[str, Any]) -> str:
    """The policy, and what the last catch-up did: `latest (3 missed → 1 run, 4 m ago)`."""
    policy, last = cron.get("catch_up") or "-", cron.get("last_catch_up")
    if not last:
        return policy
    ran = len(last.get("dispatched") or [])
    return (f"{policy} ({last['missed']} missed → {ran} run{'s' if ran != 1 else ''}, "
            f"{fmt_age(last['at'])})")


def render_queues(result: dict[str, Any]) -> str:
    if not result["depth_available"]:
        return f"{result['broker']}\n{click.style(result['note'], fg='yellow')}"
    rows = [(q["name"], bold(str(q["depth"])),
             ", ".join(f"p{p}={n}" for p, n in q["by_priority"].items() if n) or "-")
            for q in result["queues"]]
    head = f"{result['broker']}  unacked: {result['unacked']}"
    return head + "\n\n" + table(["queue", "depth", "by priority (0 = highest)"], rows)
