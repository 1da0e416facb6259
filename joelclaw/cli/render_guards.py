"""`joelclaw status` lines for the system's guards: open provider breakers and the effect
budgets' unanswered questions (shown only while there is something to see)."""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.output import fmt_age


def guard_lines(providers: dict[str, Any] | None,
                asks: list[dict[str, Any]] | None) -> dict[str, str]:
    return {**_breaker_lines(providers), **_budget_lines(asks)}


def _breaker_lines(providers: dict[str, Any] | None) -> dict[str, str]:
    """An open provider breaker: since when, why, how many runs wait on it."""
    lines = {}
    for name, b in ((providers or {}).get("breakers") or {}).items():
        if b["state"] == "open":
            lines[f"{name} breaker"] = click.style(
                f"open since {fmt_age(b['since'])}, retry {fmt_age(b['retry_at'])}; "
                f"{len(b['waiting'])} run(s) wait; {(b['last_error'] or '')[:80]}", fg="yellow")
    return lines


def _budget_lines(asks: list[dict[str, Any]] | None) -> dict[str, str]:
    """Questions of the effect budgets the owner has not answered (joelclaw budgets list)."""
    if not asks:
        return {}
    waiting = sum(len(a["runs"]) for a in asks)
    which = ", ".join(sorted({f"{a['function']} {a['kind']}" for a in asks}))[:120]
    return {"budgets": click.style(f"{len(asks)} question(s) unanswered, {waiting} run(s) "
                                   f"wait: {which}", fg="yellow")}
