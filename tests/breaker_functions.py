"""A function whose step calls the LLM: loaded only by tests/test_breakers.py."""

from __future__ import annotations

from joelclaw import Context, function, trigger
from joelclaw.config import load_settings
from joelclaw.integrations.llm import LLMClient


@function("t-llm-ask", triggers=[trigger("test/llm.ask")], retries=3)
def ask(ctx: Context) -> str:
    """One LLM call in a step, no retry inside the client: each failure reaches the breaker."""

    def call() -> str:
        s = load_settings()
        client = LLMClient(s.llm_api_url or "", s.llm_api_key, s.llm_model or "m",
                           max_attempts=1)
        try:
            return client.complete([{"role": "user", "content": f"q{ctx.event.data['n']}"}])
        finally:
            client.close()

    return ctx.step.run("ask", call)
