"""Cassettes without a worker: a model call outside any run (the owner's agent turn) is
recorded too, with its cost; what a call sends is kept without credentials or file bytes; a
recorded answer plays back byte for byte; effects are the four words and nothing else."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from joelclaw import effects
from joelclaw.cassettes import CassetteStore
from joelclaw.cassettes.recorder import Recorder
from joelclaw.errors import FunctionDefinitionError
from joelclaw.integrations import tape
from joelclaw.integrations.llm import LLMClient
from joelclaw.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.llm import FakeLLM


def test_a_model_call_outside_any_run_is_recorded_with_its_cost(
    tmp_path: Path, redis_url: str, llm: FakeLLM,
) -> None:
    settings = make_settings(tmp_path / "home", redis_url,
                             llm_prices={"m-1": {"input": 1000.0, "output": 2000.0}})
    rt = Runtime(settings, extensions=())
    tape.set_recorder(Recorder(rt))
    try:
        client = LLMClient(llm.base_url, "sk-test", "m-1", label="owner turn")
        assert client.complete([{"role": "user", "content": "hi there"}]) == "echo: hi there"
        client.close()
    finally:
        tape.set_recorder(None)
    [cassette] = [c for c in CassetteStore(rt.redis).recent(10) if c.model == "m-1"]
    assert cassette.run_id is None and cassette.kind == "chat" and cassette.effect == "read"
    assert (cassette.input_tokens, cassette.output_tokens) == (10, 3)
    assert cassette.cost_usd == pytest.approx((10 * 1000 + 3 * 2000) / 1e6)
    assert "sk-test" not in cassette.model_dump_json()  # headers are never kept
    assert cassette.answer().response(cassette.call()).json()["choices"][0]["message"][
        "content"] == "echo: hi there"


def test_what_a_call_sends_is_kept_without_file_bytes() -> None:
    kept = tape.describe({"json": {"a": 1}, "headers": {"Authorization": "Bearer x"},
                          "files": {"file": ("memo.ogg", b"\x00" * 1000, "audio/ogg")},
                          "data": {"model": "whisper"}})
    assert kept["json"] == {"a": 1} and kept["data"] == {"model": "whisper"}
    assert "headers" not in kept
    assert kept["files"]["file"]["bytes"] == 1000 and len(kept["files"]["file"]["sha256"]) == 64


@pytest.mark.parametrize("content", [b'{"ok": true}', b"plain text", b"\xff\xfe\x00binary"])
def test_a_recorded_answer_plays_back_byte_for_byte(content: bytes) -> None:
    original = httpx.Response(200, content=content, headers={"content-type": "x/y"})
    answer = tape.Answer.of(original)
    again = tape.Answer.from_stored(200, answer.stored(), answer.content_type)
    call = tape.Call("svc", "GET", "/p", "read")
    played = again.response(call)
    assert played.content == content or played.json() == original.json()
    assert played.headers["content-type"] == "x/y"


def test_effects_are_four_words_and_undeclared_means_write() -> None:
    assert effects.check(None) is None and effects.check("pure") == "pure"
    assert effects.acts(None) and effects.acts("notify") and not effects.acts("read")
    assert effects.of_method("get") == "read" and effects.of_method("POST") == "write"
    with pytest.raises(FunctionDefinitionError, match="effect must be one of"):
        effects.check("loud")
