"""Functions measured by bench/bus.py: each records when it started, then does its steps."""

from __future__ import annotations

import time

from bench.harness import marks
from joelclaw import Context, function


def _mark_start(ctx: Context) -> None:
    """Function start = the handler first begins (what Inngest calls the first SDK request):
    later executions of the run find it set."""
    marks(ctx.settings.redis_url).hsetnx("bench:start", ctx.event.data["i"], time.time())


def _done(ctx: Context) -> int:
    return int(marks(ctx.settings.redis_url).incr("bench:done"))


@function("b-one", trigger="bench/one", retries=0)
def one_step(ctx: Context) -> int:
    _mark_start(ctx)
    return ctx.step.run("work", _done, ctx)


@function("b-ten", trigger="bench/ten", retries=0)
def ten_steps(ctx: Context) -> int:
    _mark_start(ctx)
    for i in range(9):
        ctx.step.run(f"s{i}", lambda i=i: i)
    return ctx.step.run("work", _done, ctx)
