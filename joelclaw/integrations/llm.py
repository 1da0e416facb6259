"""An OpenAI-compatible chat-completions client (`POST {base}/chat/completions`).

Any server speaking that wire format works (OpenAI, OpenRouter, vLLM, llama.cpp, LiteLLM), so the
agent is chosen by configuration (JOELCLAW_LLM_*) rather than by code. Every answer's `usage`
is reported (`joelclaw.integrations.usage`): its model, tokens and cost land on the running step
and in telemetry.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from joelclaw.integrations import charges, usage
from joelclaw.integrations.http import ApiClient, IntegrationError, RetryPolicy, Sleep, make_client

if TYPE_CHECKING:
    import httpx

SERVICE = "llm"


class LLMClient:
    """`complete(messages)` returns the assistant's text; errors are the http error tree."""

    def __init__(self, base_url: str, api_key: str | None, model: str, *,
                 timeout: float = 120.0, transport: httpx.BaseTransport | None = None,
                 sleep: Sleep = time.sleep, max_attempts: int = 2,
                 label: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self.label = label  # who is calling, for spend outside a function's step
        self._api = ApiClient(
            make_client(base_url.rstrip("/") + "/", headers=headers, timeout=timeout,
                        transport=transport),
            service=SERVICE, policy=RetryPolicy(max_attempts=max_attempts), sleep=sleep,
            secrets=(api_key or "",),
        )

    def close(self) -> None:
        self._api.close()

    def complete(self, messages: list[dict[str, str]], *, model: str | None = None,
                 max_tokens: int | None = None) -> str:
        body: dict[str, Any] = {"model": model or self.model, "messages": messages}
        if max_tokens:
            body["max_tokens"] = max_tokens
        charges.charge(charges.LLM_USD, 0.0)  # room left in the budget? (cost comes after)
        # A completion is not idempotent in cost, but it posts nothing anywhere: safe to repeat.
        answer = self._api.request_json("POST", "chat/completions", json=body, idempotent=True,
                                        effect="read")
        used = usage.from_answer("chat", body["model"], answer, label=self.label)
        usage.report(used)
        charges.spent(used)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise IntegrationError(SERVICE, "answer has no choices[0].message.content") from None
        return content or ""
