"""FakeLLM: an OpenAI-compatible server (the real answer shapes): `POST /v1/chat/completions`
and `POST /v1/embeddings`. Embeddings are deterministic hashed bags of words, so texts sharing
words are near in cosine distance and unrelated ones are far, as with a real model."""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.jsonhttp import JsonServer, Request

EMBEDDING_DIMS = 64
_WORD = re.compile(r"[a-z0-9]+")


def echo(messages: list[dict[str, str]]) -> str:
    return "echo: " + messages[-1]["content"]


def fake_embedding(text: str, dims: int = EMBEDDING_DIMS) -> list[float]:
    """Signed feature hashing of the lowercase words, L2-normalized."""
    vector = [0.0] * dims
    for word in _WORD.findall(text.lower()):
        digest = hashlib.md5(word.encode()).digest()
        vector[digest[0] % dims] += 1.0 if digest[1] % 2 else -1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class FakeLLM(JsonServer):
    """`reply` maps the request's messages to the answer text; `delay` stalls every answer;
    a model named in `failing_models` answers 500 (an overloaded provider) until removed."""

    def __init__(self, reply: Callable[[list[dict[str, str]]], str] = echo,
                 api_key: str = "sk-test") -> None:
        super().__init__(token=api_key)
        self.reply = reply
        self.failing_models: set[str] = set()
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def routes(self) -> list[tuple[str, str, Any]]:
        return [("POST", r"/v1/chat/completions", self._complete),
                ("POST", r"/v1/embeddings", self._embeddings)]

    def embedding_calls(self) -> list[Request]:
        return self.calls("/embeddings")

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
        if body["model"] in self.failing_models:
            return 500, {"error": {"message": f"{body['model']} is overloaded",
                                   "type": "server_error"}}
        text = self.reply(body["messages"])
        return 200, {
            "id": f"chatcmpl-{next(self._ids)}", "object": "chat.completion",
            "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": len(text.split()),
                      "total_tokens": 10 + len(text.split())},
        }

    def _embeddings(self, match: re.Match[str], request: Request) -> tuple[int, Any]:
        body = request.body or {}
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not body.get("model") or not isinstance(texts, list) or not all(
                isinstance(t, str) for t in texts):
            return 400, {"error": {"message": "model and input (a string or a list of strings) "
                                              "are required", "type": "invalid_request_error"}}
        tokens = sum(len(t.split()) for t in texts)
        return 200, {"object": "list", "model": body["model"],
                     "data": [{"object": "embedding", "index": i, "embedding": fake_embedding(t)}
                              for i, t in enumerate(texts)],
                     "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
