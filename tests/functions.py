"""Functions used by the integration tests. Each counts its step executions in Redis
(`jc:test:count:<run>:<step>`), so tests can prove that a completed step never runs twice."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

from joelclaw.bus.execution import Context, engine
from joelclaw.bus.functions import cron, function, trigger
from joelclaw.errors import NonRetriable, RetryAfter

if TYPE_CHECKING:
    from joelclaw.events.payloads.system import CronTick, FunctionFailed


def count(ctx: Context, name: str) -> int:
    return int(engine(ctx).redis.incr(f"jc:test:count:{ctx.run_id}:{name}"))


def hold(seconds: float | str, ctx: Context | None = None) -> None:
    """Hold a step: a string names a gate the test opens (tests.support.open_gate), a number
    is a duration (for steps whose length is the point, such as concurrency spans)."""
    if isinstance(seconds, str):
        assert ctx is not None, "a gated hold needs the step's context"
        from tests.support import wait_at_gate  # (with psutil: not for declaring these)

        wait_at_gate(engine(ctx).redis, seconds)
    else:
        time.sleep(seconds)


def held(ctx: Context, default: float = 0) -> None:
    """Hold for the event's `data.hold`: seconds, or the name of a gate."""
    hold(ctx.event.data.get("hold", default), ctx)


@function("t-steps", trigger="test/steps", retries=3)
def steps(ctx: Context) -> dict:
    """Three steps; the second holds for `data.hold` seconds (for kill tests)."""
    a = ctx.step.run("one", lambda: count(ctx, "one"))
    b = ctx.step.run("two", lambda: (count(ctx, "two"), os.getpid(),
                                     held(ctx))[:2])
    c = ctx.step.run("three", lambda: count(ctx, "three"))
    return {"one": a, "two": b[0], "pid": b[1], "three": c}


@function("t-flaky", trigger="test/flaky", retries=3)
def flaky(ctx: Context) -> str:
    ctx.step.run("before", lambda: count(ctx, "before"))

    def sometimes() -> str:
        if count(ctx, "flaky") <= ctx.event.data.get("failures", 2):
            raise RuntimeError("not yet")
        return "ok"

    result = ctx.step.run("flaky", sometimes)
    ctx.step.run("after", lambda: count(ctx, "after"))
    return result


@function("t-sleep", trigger="test/sleep")
def sleeper(ctx: Context) -> dict:
    ctx.step.run("before", lambda: count(ctx, "before"))
    ctx.step.sleep("nap", ctx.event.data.get("seconds", 1))
    after = ctx.step.run("after", lambda: count(ctx, "after"))
    return {"after": after}


@function("t-wait", trigger="test/wait")
def waiter(ctx: Context) -> dict:
    ctx.step.run("before", lambda: (count(ctx, "before"), held(ctx)))
    got = ctx.step.wait_for_event("reply", "test/reply", timeout=ctx.event.data.get("timeout", 5),
                                  match="data.key")
    return {"got": got["data"] if got else None}


@function("t-wait-if", trigger="test/wait-if")
def waiter_if(ctx: Context) -> dict:
    got = ctx.step.wait_for_event("reply", "test/reply", timeout=10,
                                  if_="async.data.n > event.data.min")
    return {"got": got["data"] if got else None}


@function("t-send", trigger="test/send")
def sender(ctx: Context) -> list:
    sent = ctx.step.send_event("emit", [{"name": "test/emitted", "data": {"i": 1}},
                                        {"name": "test/emitted", "data": {"i": 2}}])
    if count(ctx, "send-attempt") == 1 and ctx.event.data.get("fail_after_send"):
        raise RuntimeError("fail after sending; the retry must not send again")
    return [s["id"] for s in sent]


@function("t-child", trigger="test/child-direct")
def child(ctx: Context) -> dict:
    if ctx.event.data.get("fail"):
        raise NonRetriable("child refuses")
    return {"doubled": ctx.event.data["n"] * 2}


@function("t-invoke", trigger="test/invoke")
def invoker(ctx: Context) -> dict:
    result = ctx.step.invoke("call-child", "t-child", {"n": ctx.event.data["n"],
                                                       "fail": ctx.event.data.get("fail", False)})
    return {"child": result}


@function("t-parallel", trigger="test/parallel", retries=0)
def parallel(ctx: Context) -> list:
    fail_index = ctx.event.data.get("fail_index")

    def member(i: int):
        def call() -> int:
            count(ctx, f"member-{i}")
            if i == fail_index:
                raise ValueError(f"member {i} broke")
            return i * 10
        return call

    results = ctx.step.parallel("fan", [member(i) for i in range(3)])
    ctx.step.run("after", lambda: count(ctx, "after"))
    return results


@function("t-nonretriable", trigger="test/nonretriable", retries=5)
def nonretriable(ctx: Context) -> None:
    def boom() -> None:
        count(ctx, "boom")
        raise NonRetriable("bad input, do not retry")
    ctx.step.run("boom", boom)


def _record_failure(ctx: Context[FunctionFailed]) -> str:
    engine(ctx).redis.set(f"jc:test:failure:{ctx.event.data.run_id}",
                          ctx.event.data.error["message"])
    return "handled"


@function("t-retry-after", trigger="test/retry-after", retries=1,
          on_failure=_record_failure)
def retry_after(ctx: Context) -> None:
    def call() -> None:
        n = count(ctx, "call")
        engine(ctx).redis.rpush(f"jc:test:times:{ctx.run_id}", time.time())
        if n == 1:
            raise RetryAfter(1.5)
        raise RuntimeError("still broken")
    ctx.step.run("call", call)


@function("t-long-step", trigger="test/long-step")
def long_step(ctx: Context) -> int:
    return ctx.step.run("long", lambda: (count(ctx, "long"), hold(ctx.event.data["hold"], ctx))[0])


@function("t-glob", trigger="globtest/*")
def globbed(ctx: Context) -> str:
    return ctx.event.name


@function("t-filtered", trigger=trigger("test/filtered", if_="event.data.amount > 100"))
def filtered(ctx: Context) -> str:
    return "big"


@function("t-cron", triggers=[cron("* * * * * */2")])
def every_two_seconds(ctx: Context[CronTick]) -> str:
    """Cron with a seconds field, so the two-beat test needs only a few seconds."""
    return ctx.event.data.slot


# ---- flow control (issue 3): each records what it did in Redis for the tests to check ------

def span(ctx: Context, name: str, seconds: float) -> dict:
    """Record [start, end] of a step body in `jc:test:spans:<name>` (JSON per run)."""
    import json

    began = time.time()
    hold(seconds, ctx)
    record = {"run": ctx.run_id, "start": began, "end": time.time(),
              "key": ctx.event.data.get("k"), "i": ctx.event.data.get("i")}
    engine(ctx).redis.rpush(f"jc:test:spans:{name}", json.dumps(record))
    return record


@function("t-conc", trigger="test/conc", retries=2,
          concurrency={"limit": 2, "key": "event.data.k"})
def conc(ctx: Context) -> dict:
    """At most 2 running per key; the first attempt of `data.stall` runs holds very long."""
    def work() -> dict:
        first = count(ctx, "work") == 1
        seconds = 60 if first and ctx.event.data.get("stall") else ctx.event.data.get("hold", 0.5)
        return span(ctx, "conc", seconds)
    return ctx.step.run("work", work)


@function("t-conc-sleep", trigger="test/conc-sleep", concurrency=[{"limit": 1}])
def conc_sleep(ctx: Context) -> str:
    ctx.step.run("a", lambda: span(ctx, "conc-sleep", 0.2))
    ctx.step.sleep("nap", ctx.event.data.get("nap", 0))
    ctx.step.run("b", lambda: span(ctx, "conc-sleep", 0.2))
    return "ok"


@function("t-conc-shared-a", trigger="test/conc-shared",
          concurrency={"limit": 1, "key": '"shared-" + event.data.k', "scope": "shared"})
def conc_shared_a(ctx: Context) -> dict:
    return ctx.step.run("work", lambda: span(ctx, "conc-shared", 0.5))


@function("t-conc-shared-b", trigger="test/conc-shared",
          concurrency={"limit": 1, "key": '"shared-" + event.data.k', "scope": "shared"})
def conc_shared_b(ctx: Context) -> dict:
    return ctx.step.run("work", lambda: span(ctx, "conc-shared", 0.5))


@function("t-throttle", trigger="test/throttle",
          throttle={"limit": 2, "period": "1s", "key": "event.data.k"})
def throttled(ctx: Context) -> dict:
    return ctx.step.run("work", lambda: span(ctx, "throttle", 0))


@function("t-throttle-slow", trigger="test/throttle-slow", throttle={"limit": 1, "period": 30})
def throttled_slow(ctx: Context) -> str:
    return "ran"


@function("t-rate", trigger="test/rate",
          rate_limit={"limit": 3, "period": "60s", "key": "event.data.user"})
def rate_limited(ctx: Context) -> str:
    return ctx.step.run("work", lambda: "ran")


@function("t-debounce", trigger="test/debounce",
          debounce={"period": "1s", "key": "event.data.k", "timeout": "3s"})
def debounced(ctx: Context) -> dict:
    return {"n": ctx.event.data["n"], "events": len(ctx.events)}


@function("t-batch", trigger="test/batch",
          batch={"max_size": 3, "timeout": "1s", "key": "event.data.k"})
def batched(ctx: Context) -> list:
    return [e.data["i"] for e in ctx.events]


@function("t-prio", trigger="test/prio", retries=0,
          priority={"run": "event.data.vip ? 600 : 0"})
def prioritized(ctx: Context) -> int:
    engine(ctx).redis.rpush("jc:test:prio-order", ctx.event.data["i"])
    return ctx.event.data["i"]


@function("t-cancel-on", trigger="test/cancel-on",
          cancel_on=[{"event": "test/cancel-it", "match": "data.k"}])
def cancellable(ctx: Context) -> str:
    ctx.step.run("before", lambda: count(ctx, "before"))
    ctx.step.sleep("nap", ctx.event.data.get("nap", 3))
    ctx.step.run("after", lambda: count(ctx, "after"))
    return "done"


@function("t-cancel-on-if", trigger="test/cancel-on-if",
          cancel_on=[{"event": "test/cancel-if", "if": "async.data.n > event.data.min"}])
def cancellable_if(ctx: Context) -> str:
    ctx.step.sleep("nap", 3)
    ctx.step.run("after", lambda: count(ctx, "after"))
    return "done"


@function("t-single-skip", trigger="test/single-skip",
          singleton={"key": "event.data.k", "mode": "skip"})
def single_skip(ctx: Context) -> str:
    ctx.step.run("work", lambda: held(ctx, 1.5))
    return "ran"


@function("t-single-cancel", trigger="test/single-cancel",
          singleton={"key": "event.data.k", "mode": "cancel"})
def single_cancel(ctx: Context) -> str:
    ctx.step.run("before", lambda: count(ctx, "before"))
    ctx.step.sleep("nap", ctx.event.data.get("nap", 5))
    ctx.step.run("after", lambda: count(ctx, "after"))
    return "ran"


@function("t-idem", trigger="test/idem", idempotency="event.data.user")
def idempotent(ctx: Context) -> str:
    return ctx.step.run("work", lambda: "ran")


@function("t-rerun", trigger="test/rerun", retries=0)
def rerunnable(ctx: Context) -> dict:
    one = ctx.step.run("one", lambda: count(ctx, "one"))

    def two() -> int:
        if engine(ctx).redis.get("jc:test:break-two"):
            raise NonRetriable("two is broken")
        return count(ctx, "two")

    return {"one": one, "two": ctx.step.run("two", two),
            "three": ctx.step.run("three", lambda: count(ctx, "three"))}


@function("t-cancel-step", trigger="test/cancel-step",
          cancel_on=[{"event": "test/cancel-step-now", "match": "data.k", "timeout": "1m"}])
def cancellable_step(ctx: Context) -> str:
    ctx.step.run("long", lambda: (count(ctx, "long"), held(ctx))[0])
    ctx.step.wait_for_event("reply", "test/never", timeout=30)
    ctx.step.run("after", lambda: count(ctx, "after"))
    return "done"


@function("t-killer-step", trigger="test/killer-step", retries=1)
def killer_step(ctx: Context) -> str:
    """Its first step SIGKILLs the process running it, every attempt: a crash loop."""
    def die() -> None:
        count(ctx, "die")
        os.kill(os.getpid(), signal.SIGKILL)

    ctx.step.run("die", die)
    return "survived"
