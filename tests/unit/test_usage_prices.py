"""The usage a provider's answer reports (chat, embeddings, audio shapes) and its price."""

from __future__ import annotations

from pathlib import Path

from joelclaw.config import Settings
from joelclaw.integrations.usage import from_answer
from joelclaw.telemetry.spend import cost, next_day_at, today


def test_usage_is_read_from_each_openai_shape_and_missing_counts_are_zero() -> None:
    chat = from_answer("chat", "m", {"usage": {"prompt_tokens": 12, "completion_tokens": 5}})
    assert (chat.input_tokens, chat.output_tokens) == (12, 5)
    embed = from_answer("embeddings", "e", {"usage": {"prompt_tokens": 7, "total_tokens": 7}})
    assert (embed.input_tokens, embed.output_tokens) == (7, 0)
    audio = from_answer("transcription", "w", {"text": "hi", "usage": {
        "type": "tokens", "input_tokens": 30, "output_tokens": 4}})
    assert (audio.input_tokens, audio.output_tokens) == (30, 4)
    timed = from_answer("transcription", "w", {"usage": {"type": "duration", "seconds": 61}})
    assert timed.seconds == 61.0 and timed.input_tokens == 0
    assert from_answer("chat", "m", {"choices": []}).input_tokens == 0
    assert from_answer("chat", "m", {"usage": {"prompt_tokens": True}}).input_tokens == 0


def test_cost_uses_the_model_price_else_the_default_and_the_day_turns_at_local_midnight(
    tmp_path: Path,
) -> None:
    s = Settings(_env_file=None, home=tmp_path, timezone="America/Los_Angeles",  # type: ignore[call-arg]
                 llm_prices={"big": {"input": 3.0, "output": 15.0}, "*": {"input": 1.0}})
    assert cost(s, "big", 1_000_000, 100_000) == 4.5
    assert cost(s, "other", 500_000, 999) == 0.5
    assert cost(Settings(_env_file=None, home=tmp_path), "x", 10**6, 10**6) == 0  # type: ignore[call-arg]
    noon_utc = 1_764_590_400.0  # 2025-12-01 12:00 UTC = 04:00 in Los Angeles
    assert today(s, noon_utc) == "2025-12-01"
    assert next_day_at(s, noon_utc) - noon_utc == 20 * 3600  # 2025-12-02 00:00 PST
