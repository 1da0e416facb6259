"""An OpenAI-compatible speech-to-text client: `POST {base}/audio/transcriptions` as
multipart/form-data (`file`, `model`, `response_format=json`), answered `{"text": ...}`.

OpenAI's Whisper API, Groq, a local faster-whisper server or LocalAI speak this format, so the
engine is chosen by configuration (JOELCLAW_TRANSCRIPTION_*) rather than by code.
"""

from __future__ import annotations

import mimetypes
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw.integrations import usage
from joelclaw.integrations.http import ApiClient, IntegrationError, RetryPolicy, Sleep, make_client

if TYPE_CHECKING:
    import httpx

SERVICE = "transcription"


class TranscriptionClient:
    def __init__(self, base_url: str, api_key: str | None, model: str, *,
                 timeout: float = 120.0, transport: httpx.BaseTransport | None = None,
                 sleep: Sleep = time.sleep, max_attempts: int = 3) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model
        self._api = ApiClient(
            make_client(base_url.rstrip("/") + "/", headers=headers, timeout=timeout,
                        transport=transport),
            service=SERVICE, policy=RetryPolicy(max_attempts=max_attempts), sleep=sleep,
            secrets=(api_key or "",))

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> TranscriptionClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def transcribe(self, path: Path, *, mime_type: str | None = None,
                   language: str | None = None, prompt: str | None = None) -> dict[str, Any]:
        """{"text", "language"?, "duration"?, "usage"?} of one audio file."""
        mime = mime_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        data: dict[str, str] = {"model": self.model, "response_format": "json"}
        if language:
            data["language"] = language
        if prompt:
            data["prompt"] = prompt
        content = path.read_bytes()
        # Posting the same audio again has no side effect anywhere: safe to retry.
        answer = self._api.request_json("POST", "audio/transcriptions", data=data,
                                        files={"file": (path.name, content, mime)},
                                        idempotent=True, effect="read")
        if not isinstance(answer, dict) or not isinstance(answer.get("text"), str):
            raise IntegrationError(SERVICE, "answer has no text")
        usage.report(usage.from_answer("transcription", self.model, answer))
        return answer
