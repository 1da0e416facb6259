"""`explain`: why a run is not running yet (flow-control holds, sleeps, waits, retries)."""

from __future__ import annotations

from typing import Any

import click

from joelclaw.bus.records import TERMINAL
from joelclaw.cli import render
from joelclaw.cli.app import Session, command
from joelclaw.cli.output import Reply, action, key_values, status


@command("explain", reads=True)
@click.argument("run_id")
def explain(session: Session, run_id: str) -> Reply:
    """Why a run is not running: which limit and key hold it, how many ahead, until when."""
    from joelclaw.bus.flow import explain_run

    rt = session.runtime()
    result = explain_run(rt, run_id)
    actions = [action(f"run {run_id}", "the run's full trace")]
    if result["status"] not in TERMINAL:
        actions.append(action(f"cancel {run_id}", "stop this run"))
    return Reply(result, _render, actions)


def _render(result: dict[str, Any]) -> str:
    fields = {"run": render.bold(result["id"]), "function": result["function"],
              "status": status(result["status"]), "why": result["reason"]}
    text = key_values(fields)
    holds = result.get("holds") or []
    if holds:
        lines = [render.hold_line(h) for h in holds]
        text += "\n\n" + render.bold("held before") + "\n" + "\n".join(lines)
    return text
