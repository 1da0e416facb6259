"""One recorded external call: what was sent, what came back, where it was made and, for a
model call, its model, tokens and cost."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from joelclaw.integrations.tape import Answer, Call


class Cassette(BaseModel):
    id: str
    at: float = Field(default_factory=time.time)
    run_id: str | None = None  # None: outside any run (the owner's agent turn)
    function: str | None = None
    step: str | None = None
    seq: int = 0  # the n-th external call of the step's attempt (1-based)
    label: str | None = None  # who called, outside a run
    service: str
    kind: str  # chat | embeddings | transcription | http
    effect: str
    method: str
    path: str
    request: dict[str, Any] = Field(default_factory=dict)
    status: int
    response: dict[str, Any] = Field(default_factory=dict)  # {"json"} | {"text"} | {"base64"}
    content_type: str = ""
    truncated: bool = False
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def is_model_call(self) -> bool:
        return self.kind != "http"

    def call(self) -> Call:
        return Call(self.service, self.method, self.path, self.effect,  # type: ignore[arg-type]
                    self.request)

    def answer(self) -> Answer:
        return Answer.from_stored(self.status, self.response, self.content_type, self.truncated)

    def text(self) -> str | None:
        """What a model said, in words: a chat's reply, a transcript, or how many vectors."""
        return answer_text(self.kind, self.response.get("json"))

    def prompt(self) -> str | None:
        """The last message of a chat request (what a prompt change changes)."""
        body = self.request.get("json") or {}
        messages = body.get("messages") if isinstance(body, dict) else None
        if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
            return str(messages[-1].get("content"))
        return None

    def summary(self) -> dict[str, Any]:
        """A listing row (no bodies)."""
        return {"id": self.id, "at": self.at, "run_id": self.run_id, "function": self.function,
                "step": self.step, "seq": self.seq, "service": self.service, "kind": self.kind,
                "effect": self.effect, "method": self.method, "path": self.path,
                "status": self.status, "model": self.model, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cost_usd": self.cost_usd,
                "label": self.label}


def answer_text(kind: str, body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    try:
        if kind == "chat":
            return str(body["choices"][0]["message"]["content"])
        if kind == "transcription":
            return str(body["text"])
        if kind == "embeddings":
            return f"{len(body['data'])} vector(s)"
    except (KeyError, IndexError, TypeError):
        return None
    return None
