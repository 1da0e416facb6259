"""Text for the agent from a file: the transcript of audio (the transcription endpoint) or the
description of an image (the LLM client, when its model accepts images: JOELCLAW_LLM_VISION).
Each answers None when its service is not configured, so the agent is told what was received
and why there is no text."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from joelclaw.integrations.llm import LLMClient
from joelclaw.integrations.transcription import TranscriptionClient

if TYPE_CHECKING:
    from joelclaw.config import Settings

DESCRIBE_PROMPT = ("Describe this image for someone who cannot see it: what it shows, any text "
                   "in it (verbatim), and anything that looks like it needs action. Be concise.")


def transcribe(settings: Settings, path: Path, mime_type: str | None) -> dict[str, Any] | None:
    media = settings.media
    if not media.transcription_api_url:
        return None
    with TranscriptionClient(media.transcription_api_url, media.transcription_api_key,
                             media.transcription_model,
                             timeout=media.transcription_timeout_seconds) as client:
        answer = client.transcribe(path, mime_type=mime_type)
    return {"text": answer["text"].strip(), "language": answer.get("language"),
            "duration": answer.get("duration"), "model": media.transcription_model}


def image_message(path: Path, mime_type: str | None, prompt: str) -> dict[str, Any]:
    """An OpenAI user message with a text part and the image as a data: URL."""
    mime = mime_type or mimetypes.guess_type(path.name)[0] or "image/jpeg"
    data = base64.b64encode(path.read_bytes()).decode()
    return {"role": "user", "content": [
        {"type": "text", "text": prompt},
        {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}]}


def describe(settings: Settings, path: Path, mime_type: str | None,
             caption: str | None = None) -> dict[str, Any] | None:
    model = settings.media.vision_model or settings.llm.model
    if not (settings.llm.vision and settings.llm.api_url and model):
        return None
    prompt = DESCRIBE_PROMPT + (f"\nThe sender's caption: {caption}" if caption else "")
    client = LLMClient(settings.llm.api_url, settings.llm.api_key, model)
    try:
        # The client sends the messages as given; content parts are OpenAI's image format.
        text = client.complete(cast(Any, [image_message(path, mime_type, prompt)]))
    finally:
        client.close()
    return {"text": text.strip(), "model": model}
