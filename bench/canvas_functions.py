"""The durable side of bench/canvas.py: one function whose only step is the plain task."""

from __future__ import annotations

from celery import signature

from joelclaw import Context, function


@function("bench-canvas", trigger="bench/canvas", retries=0)
def over_task(ctx: Context) -> int:
    sig = signature("bench.echo", args=[ctx.event.data["i"]], queue="bplain")
    return ctx.step.task("echo", sig)
