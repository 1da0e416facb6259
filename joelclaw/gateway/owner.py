"""Text that enters the conversation as if the owner had typed it (a voice note's transcript,
an image's description): a P0 message of the chat's Telegram source, so the drain runs an agent
turn on it and replies to that chat. Like the owner's own messages it is served in sleep mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw.gateway.service import Gateway, request_drain

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


def as_owner_message(rt: Bus, chat: int | None, text: str, *, idem_key: str,
                     meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Queue `text` as the owner's message in `chat` (default: the owner's chat), once per
    `idem_key`; a drain is requested at once."""
    gw = Gateway(rt)
    target = chat if chat is not None else gw.owner
    if target is None:
        raise ValueError("no chat to answer in: set JOELCLAW_TELEGRAM_OWNER_ID")
    msg_id = gw.queue.enqueue(f"telegram:{target}", text, kind="text", chat=int(target),
                              meta={"type": "owner.relayed", **(meta or {})}, dedup=False,
                              idem_key=idem_key)
    if msg_id is not None:
        request_drain(rt)
    return {"status": "queued" if msg_id else "duplicate", "id": msg_id, "chat": target}

