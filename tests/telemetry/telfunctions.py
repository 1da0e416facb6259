"""Functions the telemetry tests run in real workers: steps, a failure carrying a secret,
LLM calls inside steps, and background LLM work behind the daily budget."""

from __future__ import annotations

from typing import Any

from joelclaw.bus.execution import Context, engine
from joelclaw.bus.functions import function
from joelclaw.errors import NonRetriable
from joelclaw.integrations.llm import LLMClient
from joelclaw.telemetry import spend

LEAKED = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a GitHub token shape


@function("tel-two-steps", trigger="tel/two-steps")
def two_steps(ctx: Context[Any]) -> dict[str, Any]:
    a = ctx.step.run("first", lambda: 1)
    b = ctx.step.run("second", lambda: a + 1)
    return {"sum": a + b}


def _leak() -> None:
    raise NonRetriable(f"the upstream refused token {LEAKED} with a KeyError")


@function("tel-secret-fail", trigger="tel/secret-fail", retries=0)
def secret_fail(ctx: Context[Any]) -> None:
    ctx.step.run("leaky", _leak)


def _ask(ctx: Context[Any], prompt: str) -> str:
    s = engine(ctx).settings
    client = LLMClient(s.llm_api_url or "", s.llm_api_key, s.llm_model or "")
    try:
        return client.complete([{"role": "user", "content": prompt}])
    finally:
        client.close()


@function("tel-llm", trigger="tel/llm")
def llm_call(ctx: Context[Any]) -> dict[str, Any]:
    answer = ctx.step.run("ask", _ask, ctx, ctx.event.data.get("prompt", "hello there"))
    return {"answer": answer}


def _background(ctx: Context[Any]) -> str:
    spend.allow_background(engine(ctx), "the test digest")
    return _ask(ctx, "summarize the day")


@function("tel-background", trigger="tel/background")
def background(ctx: Context[Any]) -> dict[str, Any]:
    return {"answer": ctx.step.run("digest", _background, ctx)}


def _slow(ctx: Context[Any]) -> int:
    """Held until the test opens gate `tel-slow` (after it cancelled the run)."""
    from tests.support import wait_at_gate

    wait_at_gate(engine(ctx).redis, "tel-slow")
    return 1


@function("tel-cancel-me", trigger="tel/cancel-me")
def cancel_me(ctx: Context[Any]) -> int:
    ctx.step.run("slow", _slow, ctx)
    return ctx.step.run("never", lambda: 2)


@function("tel-background-outside", trigger="tel/background-outside")
def background_outside(ctx: Context[Any]) -> dict[str, Any]:
    spend.allow_background(engine(ctx), "the nightly summary")  # outside any step
    return {"answer": ctx.step.run("digest", _ask, ctx, "summarize the night")}
