"""`joelclaw recover <code>`: the runbook for an error code the CLI printed (diagnose, fix,
verify, rollback). Error envelopes point here by themselves (see output.with_runbook)."""

from __future__ import annotations

import difflib
from typing import Any

import click

from joelclaw.cli.app import Session, command
from joelclaw.cli.output import Failure, Reply, action
from joelclaw.cli.runbooks import PHASES, RUNBOOKS


@command("recover")
@click.argument("code", required=False)
@click.option("--phase", type=click.Choice([*PHASES, "all"]), default="all", show_default=True,
              help="Only this phase of the runbook.")
def recover(session: Session, code: str | None, phase: str) -> Reply:
    """Runbooks keyed by the error codes the CLI emits: diagnose, fix, verify, rollback."""
    if code is None:
        listing = [{"code": c, "title": book["title"]} for c, book in sorted(RUNBOOKS.items())]
        return Reply({"runbooks": listing}, _render_list,
                     [action("recover <CODE>", "one runbook")])
    wanted = code.strip().upper().replace("-", "_")
    book = RUNBOOKS.get(wanted)
    if book is None:
        guess = difflib.get_close_matches(wanted, list(RUNBOOKS), n=3)
        raise Failure(f"no runbook for {code!r}" + (f"; did you mean {', '.join(guess)}?"
                                                    if guess else ""), "UNKNOWN_CODE",
                      "`joelclaw recover` lists every code that has a runbook.",
                      next_actions=[action(f"recover {g}", "a similar code") for g in guess])
    phases = PHASES if phase == "all" else (phase,)
    result = {"code": wanted, "title": book["title"], "phases": {p: book[p] for p in phases}}
    actions = [action(s["command"], s["description"]) for p in phases for s in book[p]
               if "command" in s and "<" not in s["command"]][:4]
    return Reply(result, _render, actions)


def _render_list(result: dict[str, Any]) -> str:
    width = max(len(r["code"]) for r in result["runbooks"])
    return "\n".join(f"{click.style(r['code'].ljust(width), bold=True)}  {r['title']}"
                     for r in result["runbooks"])


def _render(result: dict[str, Any]) -> str:
    lines = [click.style(f"{result['code']}: {result['title']}", bold=True)]
    for phase, steps in result["phases"].items():
        lines.append("")
        lines.append(click.style(phase, fg="cyan", bold=True))
        if not steps:
            lines.append(click.style("  (nothing specific)", dim=True))
        for index, step in enumerate(steps, 1):
            if "command" in step:
                lines.append(f"  {index}. {step['command']}  "
                             + click.style(step["description"], dim=True))
            else:
                lines.append(f"  {index}. {step['do']}")
    return "\n".join(lines)
