"""Functions whose steps make effects: loaded only by tests/test_budgets.py."""

from __future__ import annotations

from joelclaw import Context, function, trigger


@function("t-loop-notify", triggers=[trigger("test/loop.notify")], retries=0)
def loop_notify(ctx: Context) -> int:
    """Message the owner `n` times, as a looping agent would: one durable step each."""
    for i in range(int(ctx.event.data["n"])):
        ctx.gateway.notify(f"loop {ctx.event.data.get('tag', '')} message {i}", type="loop")
    return int(ctx.event.data["n"])
