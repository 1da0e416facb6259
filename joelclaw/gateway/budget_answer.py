"""The owner's press on an effect budget's question (`bgt:<ask id>:<once|day|stop>`), for the
`budget-button` function (tasks/system.py): the runs waiting at the budget go on (once, or for
the day) or are cancelled (joelclaw.coordination.budgets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.execution import engine
from joelclaw.coordination import budgets

if TYPE_CHECKING:
    from joelclaw.bus.execution import Context
    from joelclaw.events.payloads.telegram import CallbackReceived


def press(ctx: Context[CallbackReceived]) -> dict[str, object]:
    """Only the owner's press counts; the answer is one durable step (a claim: first wins)."""
    pressed = ctx.event.data
    owner = ctx.settings.telegram.owner_id
    if owner is None or pressed.from_id != owner:
        return {"skipped": "not the owner's button press"}
    ask_id, _, verb = pressed.context.rpartition(":")
    if verb not in budgets.VERBS:
        return {"skipped": f"not a budget button: {pressed.raw_data!r}"}
    answered = ctx.step.run("answer", lambda: budgets.answer(engine(ctx), ask_id, verb,
                                                             by="telegram"))
    if answered is None:
        return {"skipped": "not pending", "ask": ask_id}
    return {"ask": ask_id, "answer": verb, "runs": answered["runs"]}
