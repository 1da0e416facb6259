"""Payloads of the media events (reference §2.5): `media/received` (the gateway downloaded a
file the owner sent) and `media/processed` (transcribed or described, archived). Fields are
snake_case; camelCase aliases (`mimeType`, `chatId`, ...) are accepted."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from joelclaw.events.payloads.base import CamelPayload


class MediaReceived(CamelPayload):
    """A local file: `media_type` is Telegram's kind (photo, voice, audio, video, document,
    ...) or a plain one (image, audio, video, document); `media_id` deduplicates (24 h)."""

    source: str = Field(min_length=1, max_length=40)
    path: str = Field(min_length=1)
    media_type: str = Field(min_length=1, max_length=40)
    mime_type: str | None = None
    file_name: str | None = None
    file_size: int | None = Field(None, ge=0)
    media_id: str | None = Field(None, min_length=1, max_length=200)
    caption: str | None = None
    chat_id: int | None = None
    message_id: int | None = None
    forwarded_from: str | None = Field(None, max_length=64)  # a stranger's file: their words
    metadata: dict[str, Any] = Field(default_factory=dict)


class MediaProcessed(CamelPayload):
    source: str
    media_type: str
    path: str
    media_id: str
    kind: str  # audio | image | other
    transcript: str | None = None
    description: str | None = None
    archive_path: str | None = None
    chat_id: int | None = None
    message_id: int | None = None


MODELS: dict[str, type[BaseModel]] = {
    "media/received": MediaReceived,
    "media/processed": MediaProcessed,
}
