"""`joelclaw budgets list|answer`: the effect budgets' questions to the owner.

`answer <id> once|day|stop` does what the Telegram buttons do (joelclaw.coordination.budgets):
the runs waiting at the budget go on (once more, or all day) or are cancelled; an id that is
not pending is a clear error with exit status 1.
"""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.app import Session, cli, command
from joelclaw.cli.output import Failure, Reply, action, fmt_age, table


@cli.group("budgets")
def budgets_group() -> None:
    """Effect budgets: the runs waiting at one, and the owner's answer."""


def _render(result: dict[str, Any]) -> str:
    return table(("ID", "FUNCTION", "KIND", "SCOPE", "CAP", "RUNS", "ASKED"),
                 [(a["id"], a["function"], a["kind"], a["scope"], f"{a['cap']:g}",
                   len(a["runs"]), fmt_age(a.get("asked_at"))) for a in result["asks"]])


@command("list", group=budgets_group)
def budgets_list(session: Session) -> Reply:
    """Questions waiting for the owner, oldest first, with the runs waiting on each."""
    from joelclaw.coordination.budgets import asks

    found = asks(session.runtime())
    return Reply({"asks": found, "count": len(found)}, _render,
                 [action("budgets answer <id> once", "let the runs make one more effect"),
                  action("budgets answer <id> day", "lift the function's cap until midnight"),
                  action("budgets answer <id> stop", "cancel the waiting runs")])


@command("answer", group=budgets_group)
@click.argument("ask_id")
@click.argument("verb", type=click.Choice(["once", "day", "stop"]))
def budgets_answer(session: Session, ask_id: str, verb: str) -> Reply:
    """Answer a question: allow once, allow for the day, or stop."""
    from joelclaw.coordination.budgets import answer

    answered = answer(session.runtime(), ask_id, verb, by="cli")
    if answered is None:
        raise Failure(f"no pending budget question {ask_id!r} (unknown, or already answered)",
                      "BUDGET_ASK_NOT_FOUND",
                      "List the pending questions with `joelclaw budgets list`.",
                      next_actions=[action("budgets list", "pending questions")])
    return Reply(answered, lambda r: f"{r['id']}: {r['answer']} ({len(r['runs'])} run(s))",
                 [action("budgets list", "what is still pending")]
                 + [action(f"explain {run}", "where the run stands") for run in answered["runs"]])
