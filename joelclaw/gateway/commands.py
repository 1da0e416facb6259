"""Slash commands, answered by the gateway itself (no agent turn): /status /runs /help /health
/search <q> /send <event> [json] /sleep /wake."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from joelclaw import health, keys
from joelclaw.bus.celery import queues
from joelclaw.bus.ports import SEARCH
from joelclaw.errors import EventError
from joelclaw.events import strictjson
from joelclaw.events.model import Event
from joelclaw.events.store import list_events
from joelclaw.gateway.agent import agent_kind
from joelclaw.gateway.queue import P1
from joelclaw.gateway.service import Gateway

MENU = (
    ("status", "System status: queue, workers, runs"),
    ("runs", "The latest runs"),
    ("health", "Gateway health"),
    ("search", "Search memory and recent events: /search <text>"),
    ("send", "Send an event: /send <name> [json]"),
    ("sleep", "Hold notifications until /wake"),
    ("wake", "Deliver what was held while asleep"),
    ("help", "What I can do"),
)


def parse(text: str) -> tuple[str, str]:
    """'/send@joelclaw_bot x {..}' -> ('send', 'x {..}')."""
    head, _, rest = text.strip().partition(" ")
    return head.lstrip("/").split("@", 1)[0].lower(), rest.strip()


def run(gw: Gateway, text: str) -> str:
    name, args = parse(text)
    handler = COMMANDS.get(name)
    if handler is None:
        return f"Unknown command /{name}. Try /help."
    return handler(gw, args)


def _help(gw: Gateway, args: str) -> str:
    lines = ["**joelclaw commands**", ""]
    lines += [f"/{name} — {description}" for name, description in MENU]
    lines += ["", f"Free text goes to the agent ({agent_kind(gw)})."]
    return "\n".join(lines)


def _status(gw: Gateway, args: str) -> str:
    """The system's health report (as GET /health), each worker role apart."""
    rt = gw.rt
    report = health.check(rt)
    workers = report["components"]["workers"]
    roles = ", ".join(f"{role} {info['alive']} alive" for role, info in workers["roles"].items())
    report_queues = queues.depths(rt)
    depths = queues.totals(report_queues)
    runs = rt.runs.counts(limit=200)
    headline = report["status"] + (f" (failing: {', '.join(report['failing'])})"
                                   if report["failing"] else "")
    lines = ["**Status**", "",
             f"- health: {headline}",
             f"- mode: {'sleep' if gw.sleeping() else 'awake'}",
             "- gateway queue: " + ", ".join(f"{k} {v}" for k, v in gw.queue.depth().items()),
             "- broker queues: " + (", ".join(f"{k} {v}" for k, v in depths.items()) or "-")
             + f"; executing {report_queues['executing']}",
             f"- workers: {roles}",
             "- runs (last 200): " + (", ".join(f"{k} {v}" for k, v in sorted(runs.items()))
                                      or "none")]
    return "\n".join(lines)


def _runs(gw: Gateway, args: str) -> str:
    found = gw.rt.runs.list(limit=8)
    if not found:
        return "No runs yet."
    lines = ["**Latest runs**", ""]
    for r in found:
        took = f" {r.duration_ms:.0f} ms" if r.duration_ms is not None else ""
        lines.append(f"- `{r.function}` {r.status}{took}")
    return "\n".join(lines)


def health_report(gw: Gateway) -> dict[str, Any]:
    r, now = gw.rt.redis, time.time()
    beat = r.get(keys.GATEWAY_HEARTBEAT)
    last = r.get(keys.GW_LAST_TURN)
    return {"heartbeat_age_s": round(now - float(beat), 1) if beat else None,
            "mode": "sleep" if gw.sleeping() else "awake", "queue": gw.queue.depth(),
            "agent": agent_kind(gw), "agent_failures": int(r.get(keys.GW_AGENT_FAILURES) or 0),
            "fallback_model": (r.get(keys.GW_AGENT_FALLBACK) or b"").decode() or None,
            "last_turn": json.loads(last) if last else None,
            "stats": {k.decode(): int(v) for k, v in r.hgetall(keys.GW_STATS).items()}}


def _health(gw: Gateway, args: str) -> str:
    report = health_report(gw)
    age = report["heartbeat_age_s"]
    healthy = health.gateway_alive(gw.settings, age)
    lines = [f"**Gateway {'healthy' if healthy else 'degraded'}**", "",
             f"- heartbeat: {age if age is not None else 'never'} s ago",
             f"- mode: {report['mode']}", f"- agent: {report['agent']}"
             f" (failures in a row: {report['agent_failures']})",
             "- queue: " + ", ".join(f"{k} {v}" for k, v in report["queue"].items())]
    if report["fallback_model"]:
        lines.append(f"- using fallback model {report['fallback_model']}")
    return "\n".join(lines)


def _search(gw: Gateway, args: str) -> str:
    if not args:
        return "Usage: /search <text>"
    search = gw.rt.hooks.get(SEARCH)  # none without memory: recent events only
    memories = search(gw.rt, args) if search is not None else None
    needle = args.lower()
    hits = [rec["event"] for rec in list_events(gw.rt.redis, limit=500)
            if needle in json.dumps(rec["event"]).lower()][:5]
    if not hits:
        events = f"Nothing recent matches “{args}”."
    else:
        events = "\n".join([f"**{len(hits)} recent event(s) matching “{args}”**", "",
                            *(f"- `{e['name']}` {e['id']}" for e in hits)])
    return f"{memories}\n\n{events}" if memories else events


def _send(gw: Gateway, args: str) -> str:
    name, _, raw = args.partition(" ")
    if not name:
        return "Usage: /send <event/name> [json data]"
    try:
        data = strictjson.loads(raw) if raw.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("the data must be a JSON object")
        sent = gw.rt.send(Event(name=name, data=data, source={"via": "telegram"}))[0]
    except (ValueError, EventError) as exc:
        return f"Could not send: {exc}"
    return f"Sent `{sent.name}` ({sent.id}): {sent.status}, {len(sent.runs)} run(s) started."


def _sleep(gw: Gateway, args: str) -> str:
    gw.set_sleeping(True)
    return "😴 Sleep mode: notifications are held until /wake (fatal alerts still come through)."


def _wake(gw: Gateway, args: str) -> str:
    from joelclaw.gateway.notify import flush_digest

    gw.set_sleeping(False)
    held = gw.queue.take_held()
    if held:
        lines = [f"**While you slept: {len(held)} notification(s)**", ""]
        lines += [f"- {m.prompt.strip().splitlines()[0][:200]}" for m in held[:30] if m.prompt]
        gw.queue.enqueue("gateway", "\n".join(lines), kind="notify", priority=P1,
                         meta={"type": "gateway.wake"}, dedup=False)
    flush_digest(gw.rt, title="📋 Held while asleep")
    return f"☀️ Awake. {len(held)} held notification(s) follow."


COMMANDS: dict[str, Callable[[Gateway, str], str]] = {
    "help": _help, "start": _help, "commands": _help, "status": _status, "runs": _runs,
    "health": _health, "search": _search, "send": _send, "sleep": _sleep, "wake": _wake,
}
