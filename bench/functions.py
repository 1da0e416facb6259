"""Functions measured by bench/bus.py: each records when its first step started."""

from __future__ import annotations

import time

from joelclaw.bus.executor import Context
from joelclaw.bus.functions import function


def _mark_start(ctx: Context) -> float:
    now = time.time()
    pipe = ctx.runtime.redis.pipeline(transaction=False)
    pipe.hset("bench:start", ctx.event.data["i"], now)
    pipe.incr("bench:done")
    pipe.execute()
    return now


@function("b-one", trigger="bench/one", retries=0)
def one_step(ctx: Context) -> float:
    return ctx.step.run("mark", _mark_start, ctx)


@function("b-ten", trigger="bench/ten", retries=0)
def ten_steps(ctx: Context) -> int:
    for i in range(9):
        ctx.step.run(f"s{i}", lambda i=i: i)
    ctx.step.run("mark", _mark_start, ctx)
    return 10
