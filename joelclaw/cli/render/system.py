"""The system's views: status, functions, a sent event, the schedule and the queues."""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.output import fmt_age, fmt_ms, fmt_seconds, fmt_time, key_values, status, table
from joelclaw.cli.render.text import bold, dim
from joelclaw.cli.render_guards import guard_lines


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
        return (f"{result['broker']}  executing: {result['executing']}\n"
                f"{click.style(result['note'], fg='yellow')}")
    rows = [(q["name"], bold(str(q["depth"])),
             ", ".join(f"p{p}={n}" for p, n in q["by_priority"].items() if n) or "-")
            for q in result["queues"]]
    head = (f"{result['broker']}  unacked: {result['unacked']}  "
            f"executing: {result['executing']}")
    return head + "\n\n" + table(["queue", "depth", "by priority (0 = highest)"], rows)
