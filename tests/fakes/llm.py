"""FakeLLM: an OpenAI-compatible `POST /v1/chat/completions` server (the real answer shape)."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.jsonhttp import JsonServer, Request


def echo(messages: list[dict[str, str]]) -> str:
    return "echo: " + messages[-1]["content"]


class FakeLLM(JsonServer):
    """`reply` maps the request's messages to the answer text; `delay` stalls every answer."""

    def __init__(self, reply: Callable[[list[dict[str, str]]], str] = echo,
                 api_key: str = "sk-test") -> None:
        super().__init__(token=api_key)
        self.reply = reply
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("POST", r"/v1/chat/completions", self._complete)]

    def completions(self) -> list[Request]:
        return self.calls("/chat/completions")

    def prompts(self) -> list[str]:
        """The last user message of every completion request."""
        return [r.body["messages"][-1]["content"] for r in self.completions()]

    def _complete(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        body = request.body or {}
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return 400, {"error": {"message": "model and messages are required",
                                   "type": "invalid_request_error"}}
        text = self.reply(body["messages"])
        return 200, {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()),
                      "total_tokens": 10 + len(text.split())},
        }
