"""Durable functions over the plain tasks of tests.canvas_tasks (loaded by every test worker
through JOELCLAW_FUNCTION_MODULES)."""

from __future__ import annotations

from celery import chord, group

from joelclaw.bus.execution import Context, engine
from joelclaw.bus.functions import function, trigger
from joelclaw.errors import StepError
from tests import canvas_tasks as t
from tests.functions import count


@function("c-chain", trigger="canvas/chain")
def chain_fn(ctx: Context) -> dict:
    x = ctx.event.data["x"]
    result = ctx.step.canvas("chain", t.add.s(x, 2) | t.double.s())
    return {"result": result, "after": ctx.step.run("after", lambda: count(ctx, "after"))}


@function("c-chord", trigger="canvas/chord", retries=0)
def chord_fn(ctx: Context) -> dict:
    members = [t.double.s(i) for i in ctx.event.data["values"]]
    if ctx.event.data.get("fail"):
        members.insert(1, t.boom.s(99))
    total = ctx.step.canvas("chord", chord(members, t.collect.s(tag=ctx.run_id)))
    return {"total": total}


@function("c-nested", trigger="canvas/nested")
def nested_fn(ctx: Context) -> dict:
    """add | (double, double) | collect: Celery makes the group and collect a chord."""
    workflow = t.add.s(1, 1) | group(t.double.s(), t.double.s()) | t.collect.s(tag=ctx.run_id)
    return {"total": ctx.step.canvas("nested", workflow)}


@function("c-group", trigger="canvas/group")
def group_fn(ctx: Context) -> dict:
    values = ctx.step.canvas("group", group(t.double.s(i) for i in ctx.event.data["values"]))
    return {"values": values}


@function("c-task", trigger="canvas/task", retries=0)
def task_fn(ctx: Context) -> dict:
    """The kinds of step.task: a task object, a signature, a name; `slow` and `flaky` modes."""
    data = ctx.event.data
    mode = data["mode"]
    if mode == "flaky":
        result = ctx.step.task("flaky", t.flaky, ctx.run_id, data["failures"])
    elif mode == "slow":
        result = ctx.step.task("slow", t.slow.s(ctx.run_id, data["value"]))
    elif mode == "name":
        result = ctx.step.task("by-name", "canvas.add", 20, 22)
    elif mode == "held-end":
        result = ctx.step.task("held", t.held_end.s(ctx.run_id, data["value"], data["fail"]))
    elif mode == "timeout":
        try:
            result = ctx.step.task("nowhere", t.add.s(1, 1).set(queue="nowhere"),
                                   timeout=data["timeout"])
        except StepError as exc:
            result = {"error": exc.error_type, "message": str(exc)}
    else:
        result = ctx.step.task("boom", t.boom, 7)
    after = ctx.step.run("after", lambda: count(ctx, "after"))
    return {"result": result, "after": after}


@function("c-replay", trigger="canvas/replay", retries=3)
def replay_fn(ctx: Context) -> dict:
    """A step after the task fails twice: the run replays, the task is not published again."""
    value = ctx.step.task("once", t.add, 40, 2)

    def fails_twice() -> int:
        if count(ctx, "later") <= 2:
            raise RuntimeError("not yet")
        return value

    return {"value": ctx.step.run("later", fails_twice)}


@function("c-on-emitted", trigger="canvas/emitted")
def on_emitted(ctx: Context) -> dict:
    return {"got": ctx.event.data}


@function("c-on-task", trigger=trigger("celery/task.*",
                                       if_='startsWith(event.data.task_id, "plain-")'))
def on_task(ctx: Context) -> dict:
    return {"name": ctx.event.name, "data": ctx.event.data.model_dump(mode="json")}


@function("c-foreign", trigger="canvas/foreign", retries=0)
def foreign_fn(ctx: Context) -> dict:
    """Tasks of another Celery app, by name (this process never imports them)."""
    product = ctx.step.task("mul", engine(ctx).celery.signature("foreign.mul", args=[6, 7],
                                                                 queue="foreign"))
    try:
        ctx.step.task("fail", engine(ctx).celery.signature("foreign.fail", args=["nope"],
                                                            queue="foreign"))
        error = None
    except StepError as exc:
        error = {"type": exc.error_type, "message": str(exc)}
    return {"product": product, "error": error}
