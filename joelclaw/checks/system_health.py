"""`check/system-health`: what is wrong with this system, as findings a function can act on.

It reads the one health report (`joelclaw.health.check`: Redis, the broker, each worker role,
beat, the gateway, Typesense, with their staleness rules) and adds what only a check looks at:
free disk under JOELCLAW_HOME and stale runs (`core`), and the run error rate over the last
minutes (`signals`); `full` is both. A failing core component of the report is **fatal**; an
optional one, low disk, stale runs or a high error rate is **degraded**.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

from joelclaw import health
from joelclaw.bus.records import TERMINAL
from joelclaw.checks import stale_runs

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

MODES = ("core", "signals", "full")
ERROR_RATE_SCAN = 5000


def finding(component: str, severity: str, summary: str) -> dict[str, str]:
    return {"component": component, "severity": severity, "summary": summary}


def core(rt: Bus, now: float) -> tuple[list[dict[str, str]], dict[str, Any]]:
    report = health.check(rt, now)
    found = []
    for name in report["failing"]:
        found.append(finding(name, "fatal", _why(name, report["components"][name])))
    for name in report["degraded"]:
        if name == "providers":  # an open breaker told the owner itself, once per outage
            continue
        found.append(finding(name, "degraded", _why(name, report["components"][name])))
    components = {n: c.get("status") for n, c in report["components"].items()}
    disk = disk_status(rt)
    components["disk"] = disk["status"]
    if not disk["ok"]:
        found.append(finding("disk", "degraded",
                             f"{disk['free_percent']:.1f}% free under {disk['path']} "
                             f"(minimum {rt.settings.health.disk_min_free_percent:g}%)"))
    stale = stale_runs.find(rt, now)
    components["stale_runs"] = "degraded" if stale else "ok"
    if stale:
        names = sorted({r["function"] for r in stale})
        found.append(finding("stale_runs", "degraded",
                             f"{len(stale)} run(s) stuck ({', '.join(names[:5])})"))
    return found, components


def _why(name: str, component: dict[str, Any]) -> str:
    if component.get("error"):
        return f"{name} is {component.get('status')}: {component['error']}"
    if component.get("age_s") is not None:
        return f"{name} is {component.get('status')} (last seen {component['age_s']:.0f} s ago)"
    if component.get("age_s", "missing") is None:
        return f"{name} is {component.get('status')} (never seen)"
    return f"{name} is {component.get('status')}"


def disk_status(rt: Bus) -> dict[str, Any]:
    path = rt.settings.home_dir
    probe = path if path.exists() else path.parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    usage = shutil.disk_usage(probe)
    free = 100.0 * usage.free / usage.total if usage.total else 100.0
    ok = free >= rt.settings.health.disk_min_free_percent
    return {"ok": ok, "status": "ok" if ok else "degraded", "path": str(probe),
            "free_percent": round(free, 2)}


def error_rate(rt: Bus, now: float) -> dict[str, Any]:
    """Failed runs / ended runs over the window (cancelled and skipped ones do not count)."""
    s = rt.settings
    since = now - s.health.error_rate_window_minutes * 60
    ended = [r for r in rt.runs.list(since=since, status=TERMINAL, limit=ERROR_RATE_SCAN)
             if r.status in ("completed", "failed")]
    failed = [r for r in ended if r.status == "failed"]
    rate = len(failed) / len(ended) if ended else 0.0
    high = len(ended) >= s.health.error_rate_min_runs and rate >= s.health.error_rate_threshold
    by_function: dict[str, int] = {}
    for run in failed:
        by_function[run.function] = by_function.get(run.function, 0) + 1
    return {"ended": len(ended), "failed": len(failed), "rate": round(rate, 3), "high": high,
            "top": sorted(by_function.items(), key=lambda kv: -kv[1])[:5]}


def check(rt: Bus, mode: str, now: float | None = None) -> dict[str, Any]:
    """`{mode, status, findings, components, error_rate?}`; status ok | degraded | fatal."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    now = time.time() if now is None else now
    found: list[dict[str, str]] = []
    out: dict[str, Any] = {"mode": mode}
    if mode in ("core", "full"):
        core_found, out["components"] = core(rt, now)
        found += core_found
    if mode in ("signals", "full"):
        rate = out["error_rate"] = error_rate(rt, now)
        if rate["high"]:
            top = ", ".join(f"{fn} x{n}" for fn, n in rate["top"])
            found.append(finding("error_rate", "degraded",
                                 f"{rate['failed']}/{rate['ended']} runs failed in the last "
                                 f"{rt.settings.health.error_rate_window_minutes:g} min "
                                 f"({rate['rate']:.0%}; {top})"))
    severities = {f["severity"] for f in found}
    out["status"] = "fatal" if "fatal" in severities else "degraded" if found else "ok"
    out["findings"] = found
    return out


def snooze_key(component: str) -> str:
    return f"health.{component}"


def describe(findings: list[dict[str, str]], *, fatal: bool) -> str:
    title = "💀 **System fatal**" if fatal else "⚠️ **System degraded**"
    lines = [title, "", *(f"- {f['summary']}" for f in findings), "",
             "`joelclaw status` shows the whole report."]
    return "\n".join(lines)
