"""`media-process` (reference §1.5 #62): a file the owner sent becomes text for the agent.

validate → dedup (24 h per media id) → transcribe audio / describe an image → archive →
the text goes to the agent as the owner's message in the chat it came from (the gateway runs
the turn and replies there, in sleep mode too) → `media/processed`.

Each function imports the media modules it calls when it runs: declaring it (`joelclaw
functions`, `status`, `schedule` read the registry) loads no media machinery.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from joelclaw import Context, NonRetriable, function

if TYPE_CHECKING:
    from joelclaw.events.payloads.media import MediaReceived
    from joelclaw.events.payloads.system import FunctionFailed

DEDUP_SECONDS = 24 * 3600  # a media id seen again within a day is a duplicate
LABELS = {"voice": "voice note", "audio": "audio file", "photo": "photo", "image": "image",
          "video_note": "video note"}


def _validate(ctx: Context[MediaReceived]) -> str:
    from joelclaw.media import kinds

    try:
        return str(kinds.validate(ctx.event.data, ctx.settings.media.max_bytes))
    except kinds.InvalidMedia as exc:
        raise NonRetriable(str(exc)) from None


def prompt_for(media: MediaReceived, kind: str, text: str | None, archived: str) -> str:
    """What the agent reads: the transcript or description as the owner's words."""
    from joelclaw.events.payloads.telegram import quote_forwarded

    label = LABELS.get(media.media_type, media.media_type)
    caption = f"\nCaption: {media.caption}" if media.caption else ""
    if media.forwarded_from and text is not None:  # a stranger's words: data, not a command
        what = ("A voice message (its transcript)" if kind == "audio"
                else f"A {label} (its description)")
        said = text + (f"\n(caption) {media.caption}" if media.caption else "")
        return quote_forwarded(media.forwarded_from, said, what=what)
    if kind == "audio" and text is not None:
        return f"[Voice message transcript — the owner said:]\n{text}{caption}"
    if kind == "image" and text is not None:
        return f"[The owner sent a {label}. It shows:]\n{text}{caption}"
    why = {"audio": " (no transcription configured: JOELCLAW_TRANSCRIPTION_API_URL)",
           "image": " (no image model configured: JOELCLAW_LLM_VISION)"}.get(kind, "")
    return f"[The owner sent a {label}, saved at {archived}{why}]{caption}"


def _dedup_name(media_id: str) -> str:
    return f"media:processed:{media_id}"  # the first run's claim, DEDUP_SECONDS


def media_failed(ctx: Context[FunctionFailed]) -> dict[str, Any]:
    """After the last attempt: free the media id (sending it again retries) and tell the
    owner what went wrong."""
    from joelclaw.events.payloads.media import MediaReceived
    from joelclaw.media import kinds

    media = MediaReceived.model_validate(ctx.event.data.event.get("data") or {})
    mid = kinds.media_id(media)
    ctx.step.run("free-media-id", ctx.cooldown.reset, _dedup_name(mid))
    label = LABELS.get(media.media_type, media.media_type)
    message = str(ctx.event.data.error.get("message") or "unknown error")[:300]
    ctx.gateway.notify(f"⚠️ I could not process your {label}: {message}",
                       type="media.failed", priority=1, step_id="tell-owner")
    return {"media_id": mid, "freed": True}


@function("media-process", trigger="media/received", retries=3,
          concurrency=[{"limit": 2}], on_failure=media_failed)
def media_process(ctx: Context[MediaReceived]) -> dict[str, Any]:
    from joelclaw.media import archive, kinds, understand

    d, s = ctx.event.data, ctx.settings
    path = ctx.step.run("validate-file", _validate, ctx)
    mid = kinds.media_id(d)
    first = ctx.step.run("check-dedup", ctx.cooldown.claim, _dedup_name(mid), DEDUP_SECONDS)
    if not first:
        return {"media_id": mid, "skipped": "duplicate within 24 h"}
    kind = kinds.kind_of(d)
    result: dict[str, Any] | None = None
    if kind == "audio":
        result = ctx.step.run("transcribe-audio", understand.transcribe, s,
                              Path(path), d.mime_type)
    elif kind == "image":
        result = ctx.step.run("vision-describe", understand.describe, s, Path(path),
                              d.mime_type, d.caption)
    text = result["text"] if result else None
    sidecar = {"media_id": mid, "source": d.source, "media_type": d.media_type, "kind": kind,
               "mime_type": d.mime_type, "caption": d.caption, "chat_id": d.chat_id,
               "transcript" if kind == "audio" else "description": text}
    archived = ctx.step.run("archive", archive.archive, s.media_archive, d.source, mid,
                            Path(path), sidecar)
    relayed = ctx.step.run("to-agent", ctx.gateway.as_owner_message, d.chat_id,
                           prompt_for(d, kind, text, archived),
                           idem_key=f"media-{mid}", meta={"media_id": mid, "kind": kind})
    ctx.step.send_event("emit-processed", {"name": "media/processed", "data": {
        "source": d.source, "media_type": d.media_type, "path": path, "media_id": mid,
        "kind": kind, "transcript": text if kind == "audio" else None,
        "description": text if kind == "image" else None, "archive_path": archived,
        "chat_id": d.chat_id, "message_id": d.message_id}})
    return {"media_id": mid, "kind": kind, "archived": archived, "relayed": relayed["status"],
            "text": (text or "")[:300]}
