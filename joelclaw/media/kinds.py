"""What a received file is (audio to transcribe, an image to describe, anything else to keep),
its stable id for the 24 h dedup, and the checks it must pass before anything reads it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from joelclaw.errors import JoelclawError
from joelclaw.events.payloads.media import MediaReceived

AUDIO_TYPES = frozenset({"voice", "audio"})
IMAGE_TYPES = frozenset({"photo", "image"})
KNOWN_TYPES = frozenset({"photo", "image", "voice", "audio", "video", "video_note",
                         "animation", "document", "sticker"})


class InvalidMedia(JoelclawError, ValueError):
    """The file cannot be processed; the message says why."""


def kind_of(media: MediaReceived) -> str:
    """audio | image | other, from the media type, then the MIME type."""
    mime = (media.mime_type or "").lower()
    if media.media_type in AUDIO_TYPES or mime.startswith("audio/"):
        return "audio"
    if media.media_type in IMAGE_TYPES or (mime.startswith("image/") and media.media_type
                                           != "sticker"):
        return "image"
    return "other"


def media_id(media: MediaReceived) -> str:
    """The media's own id, else one derived from where it came from (chat and message), else
    from its path."""
    if media.media_id:
        return media.media_id
    if media.chat_id is not None and media.message_id is not None:
        return f"{media.source}-{media.chat_id}-{media.message_id}"
    return f"{media.source}-" + hashlib.sha256(media.path.encode()).hexdigest()[:24]


def validate(media: MediaReceived, max_bytes: int) -> Path:
    """The file, checked: a known type, present, a regular file, not empty, not too big."""
    if media.media_type not in KNOWN_TYPES:
        raise InvalidMedia(f"unknown media type {media.media_type!r} (expected one of "
                           f"{', '.join(sorted(KNOWN_TYPES))})")
    path = Path(media.path).expanduser()
    if not path.is_file():
        raise InvalidMedia(f"media file {path} does not exist (or is not a file)")
    size = path.stat().st_size
    if size == 0:
        raise InvalidMedia(f"media file {path} is empty")
    if size > max_bytes:
        raise InvalidMedia(f"media file {path} is {size} bytes, over "
                           f"JOELCLAW_MEDIA_MAX_BYTES ({max_bytes})")
    return path
