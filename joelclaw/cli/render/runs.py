"""Runs and events as tables, and one run's or one event's summary."""

from __future__ import annotations

import time
from typing import Any

from joelclaw.cli.output import fmt_age, fmt_ms, fmt_time, key_values, status, table
from joelclaw.cli.render.text import bold, dim, short_json


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
