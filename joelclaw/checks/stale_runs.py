"""Stale runs: this system's own runs stuck too long in one status (the old `check/stale-loops`
looked at agent loops; here every durable function's runs). Queued longer than
`JOELCLAW_STALE_QUEUED_MINUTES` (never started: no worker for its queue, a limit that never
frees) or running longer than `JOELCLAW_STALE_RUNNING_MINUTES` (a step that never returns).
Sleeping and waiting runs have their own deadlines, and runs of a paused function wait for
the owner's resume: none of them is stale."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw.insight.links import run_ref

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings

SCAN = 500


def find(rt: Bus, now: float | None = None) -> list[dict[str, Any]]:
    """`[{id, function, status, age_minutes}]`, oldest first."""
    now = time.time() if now is None else now
    s = rt.settings
    limits = {"queued": s.health.stale_queued_minutes * 60,
              "running": s.health.stale_running_minutes * 60}
    found = []
    for run in rt.runs.list(status=list(limits), limit=SCAN):
        if (run.held or {}).get("kind") == "paused":
            continue  # waits for the owner's resume, not stuck
        since = run.created_at if run.status == "queued" else (run.started_at or run.created_at)
        age = now - since
        if age > limits[run.status]:
            found.append({"id": run.id, "function": run.function, "status": run.status,
                          "age_minutes": round(age / 60, 1)})
    return sorted(found, key=lambda r: -r["age_minutes"])


def describe(stale: list[dict[str, Any]], limit: int = 10,
             settings: Settings | None = None) -> str:
    """The notice; each run links to its dashboard page when `JOELCLAW_PUBLIC_URL` is set."""
    lines = [f"⏳ **{len(stale)} stale run(s)**", ""]
    lines += [f"- {_ref(settings, r['id'])} {r['function']}: {r['status']} for "
              f"{r['age_minutes']:.0f} min" for r in stale[:limit]]
    if len(stale) > limit:
        lines.append(f"- … and {len(stale) - limit} more")
    lines += ["", "`joelclaw explain <run>` says why; `joelclaw cancel <run>` ends one."]
    return "\n".join(lines)


def _ref(settings: Settings | None, run_id: str) -> str:
    return run_ref(settings, run_id) if settings is not None else f"`{run_id}`"
