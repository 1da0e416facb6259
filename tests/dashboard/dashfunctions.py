"""Functions for the dashboard tests: hostile text in step ids and errors, a step that fails
while a Redis flag is set (so a replay can succeed), and a run slow enough to watch live."""

from __future__ import annotations

import time

from joelclaw.bus.execution import Context, engine
from joelclaw.bus.functions import function
from joelclaw.errors import NonRetriable

BREAK_FLAG = "jc:test:dash:broken"


@function("d-hostile", trigger="dash/hostile", retries=0)
def hostile(ctx: Context) -> dict:
    """Step ids and errors carrying markup: the dashboard must show them as text."""
    ctx.step.run("<b>bold</b> step", lambda: {"html": "<img src=x onerror=alert(1)>"})

    def boom() -> None:
        raise NonRetriable("<script>window.__pwned = 1</script> broke")

    ctx.step.run("explode", boom)
    return {}


@function("d-flaky", trigger="dash/flaky", retries=0)
def flaky(ctx: Context) -> dict:
    """Fails with a clear error while the flag is set; replayed after it is cleared, succeeds."""
    ctx.step.run("prepare", lambda: {"ok": True})

    def charge() -> dict:
        if engine(ctx).redis.get(BREAK_FLAG):
            raise NonRetriable("card declined: the payment provider said no")
        return {"charged": ctx.event.data.get("amount", 0)}

    return ctx.step.run("charge", charge)


@function("d-live", trigger="dash/live", retries=0)
def live(ctx: Context) -> dict:
    """A few steps with a pause and a durable sleep between, to watch the waterfall fill in."""
    pause = float(ctx.event.data.get("pause", 0.6))
    ctx.step.run("fetch", lambda: time.sleep(pause) or {"rows": 3})
    ctx.step.sleep("cool-down", ctx.event.data.get("sleep", 1.5))
    ctx.step.run("store", lambda: time.sleep(pause) or {"stored": 3})
    ctx.step.parallel("fan-out", [lambda: 1, lambda: 2])
    return {"done": True}


@function("d-documented", trigger="dash/documented", retries=0)
def documented(ctx: Context) -> dict:
    """Summarise an **invoice** with `summarize()` and file it.

    The whole docstring shows on the functions page, rendered from Markdown:

    - a [guide](https://example.com/guide?a=1&b=2) and a [trap](javascript:alert(1))
    - raw HTML stays text: <script>window.__pwned = 3</script><img src=x onerror=alert(1)>
    """
    return {"ok": True}
