"""Payloads of the telegram/* events (Bot API Update objects)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow")


class MessageReceived(_Payload):
    """A message to the bot; media messages carry `media_type`/`file_id` and maybe a caption."""

    update_id: int
    message_id: int
    chat_id: int
    chat_type: str | None = None
    from_id: int | None = None
    from_username: str | None = None
    from_first_name: str | None = None
    from_is_bot: bool = False
    date: int | None = None
    text: str | None = None
    caption: str | None = None
    media_type: str | None = None
    file_id: str | None = None
    reply_to_message_id: int | None = None


class CallbackReceived(_Payload):
    """An inline-button press; `raw_data` is `action:context` as the gateway wrote it."""

    update_id: int
    callback_query_id: str
    action: str
    context: str
    raw_data: str
    chat_id: int | None = None
    message_id: int | None = None
    from_id: int | None = None
    from_username: str | None = None


MODELS: dict[str, type[BaseModel]] = {
    "telegram/message.received": MessageReceived,
    "telegram/callback.received": CallbackReceived,
}
