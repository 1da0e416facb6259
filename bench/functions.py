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


NOOP_STEPS = 20  # steps per bench/noop run: each timed, beside a bare PING timed just before it


@function("b-noop", trigger="bench/noop", retries=0)
def noop_steps(ctx: Context) -> int:
    """Step overhead: the time `step.run` adds around a function doing nothing, next to one
    bare Redis round trip on the same worker (the floor), both pushed to lists at the end."""
    marker = marks(ctx.settings.redis_url)
    steps, pings = [], []
    for i in range(NOOP_STEPS):
        began = time.perf_counter_ns()
        marker.ping()
        pinged = time.perf_counter_ns()
        ctx.step.run(f"n{i}", _nothing)
        steps.append((time.perf_counter_ns() - pinged) / 1000)
        pings.append((pinged - began) / 1000)
    marker.rpush("bench:step_us", *steps)
    marker.rpush("bench:ping_us", *pings)
    return int(marker.incr("bench:done"))


def _nothing() -> None:
    return None
