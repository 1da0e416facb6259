"""Functions for bench/chaos.py. Each step notes, when its body starts, whether its result is
already stored: that would be a finished step running again, which must never happen. Looking
into the run store is the benchmark's business, not a function's: it asks the engine
(`engine(ctx)`), as tests do."""

from __future__ import annotations

import time

from joelclaw import Context, function, register_payload
from joelclaw.bus.execution import engine
from joelclaw.events.payloads.memory import SessionEnded
from tasks.memory import observe_session

STEPS = ("one", "two", "three")


def _work(ctx: Context, step: str, seconds: float) -> int:
    rt = engine(ctx)
    if rt.runs.memo_record(ctx.run_id, step) is not None:
        rt.redis.incr("jc:chaos:finished-step-ran-again")
    time.sleep(seconds)
    return int(rt.redis.incr(f"jc:chaos:count:{ctx.run_id}:{step}"))


@function("chaos-work", trigger="chaos/work", retries=5)
def work(ctx: Context) -> dict[str, int]:
    """Three steps of a little work each, so kills land in the middle of runs."""
    return {step: ctx.step.run(step, _work, ctx, step, 0.05) for step in STEPS}


@function("chaos-probe", trigger="chaos/probe", retries=5)
def probe(ctx: Context) -> str:
    """Marks that the system ran a fresh event end to end (the recovery measure)."""
    ctx.step.run("mark", lambda: bool(engine(ctx).redis.set(
        f"jc:chaos:probe:{ctx.event.id}", "1", ex=3600)))
    return "ok"


# The memory pipeline under chaos: the observe handler (an LLM call to the fake server the
# bench starts, then Typesense writes), unthrottled and with room to retry through a killed
# Typesense or Redis.
register_payload("chaos/session.ended", SessionEnded)  # the same model again is a no-op

chaos_memory_observe = function("chaos-memory-observe", trigger="chaos/session.ended",
                                retries=10)(observe_session.handler)
