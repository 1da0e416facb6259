"""What an LLM call used, as the provider's answer says, and where clients report it.

The clients (`llm.py`, `embeddings.py`, and any other OpenAI-compatible client, e.g. audio
transcription) build a `Usage` from the answer's `usage` object (`from_answer`) and `report` it.
The process's sink is installed by the telemetry extension (`joelclaw.telemetry.spend`), which
prices it and records it on the running step and in telemetry; without a sink a report is
dropped. A failing sink is logged, never raised: accounting never fails a call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("joelclaw.usage")


@dataclass(frozen=True)
class Usage:
    kind: str  # chat | embeddings | transcription | ...
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    label: str | None = None  # who called, when not a function's step (e.g. the owner's turn)
    seconds: float | None = None  # audio seconds, for a transcription priced by duration


Sink = Callable[[Usage], None]
_sink: list[Sink] = []


def set_sink(sink: Sink | None) -> None:
    _sink[:] = [sink] if sink is not None else []


def report(usage: Usage | None) -> None:
    """Hand a call's usage to the sink; in a shadow run to its player instead (a replayed
    answer costs nothing, a re-asked one is counted by the shadow, not by the day's spend)."""
    if usage is None:
        return
    from joelclaw.integrations import tape

    player = tape.player()
    if player is not None:
        player.usage(usage)
        return
    if not _sink:
        return
    try:
        _sink[0](usage)
    except Exception:
        log.warning("recording LLM usage failed", exc_info=True)


def from_answer(kind: str, model: str, answer: Any, *, label: str | None = None) -> Usage:
    """OpenAI's shapes: {prompt_tokens, completion_tokens} (chat, embeddings) or
    {input_tokens, output_tokens} / {type: "duration", seconds} (audio); missing = 0."""
    raw = answer.get("usage") if isinstance(answer, dict) else None
    raw = raw if isinstance(raw, dict) else {}

    def number(*names: str) -> int:
        for name in names:
            value = raw.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                return max(0, int(value))
        return 0

    seconds = raw.get("seconds")
    return Usage(kind, model, number("prompt_tokens", "input_tokens"),
                 number("completion_tokens", "output_tokens"), label,
                 float(seconds) if isinstance(seconds, int | float) else None)
