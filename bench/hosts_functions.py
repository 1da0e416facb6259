"""Functions for bench/hosts.py: three I/O-bound steps (a wait each, as an HTTP or LLM call
would be), each noting when it starts although its result is already stored (a finished step
running again, which must never happen), the last counting the run as done. Looking into the
run store is the benchmark's business, not a function's: it asks the engine (`engine(ctx)`)."""

from __future__ import annotations

import time

from joelclaw import Context, function
from joelclaw.bus.execution import engine

STEPS = ("one", "two", "three")
RAN_AGAIN = "bench:hosts:finished-step-ran-again"
DONE = "bench:done"


def _work(ctx: Context, step: str, seconds: float) -> str:
    rt = engine(ctx)
    if rt.runs.memo_record(ctx.run_id, step) is not None:
        rt.redis.incr(RAN_AGAIN)
    time.sleep(seconds)
    if step == STEPS[-1]:
        rt.redis.incr(DONE)
    return step


@function("hosts-work", trigger="hosts/work", retries=5)
def work(ctx: Context) -> list[str]:
    seconds = float(ctx.event.data.get("seconds", 0.02))
    return [ctx.step.run(step, _work, ctx, step, seconds) for step in STEPS]
