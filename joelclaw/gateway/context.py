"""`ctx.gateway`: the notifier every function uses (`notify`, `alert`, `send_file`), plus what the
gateway's own functions and the checks' buttons ask of it (sleep mode, the digest, the
heartbeat, webhook-mode intake, editing a sent message), so none of them needs the runtime.
"""

from __future__ import annotations

import time
from typing import Any

from joelclaw import keys
from joelclaw.bus.execution import engine
from joelclaw.coordination.cooldown import cooldown
from joelclaw.gateway.format import to_telegram_html
from joelclaw.gateway.notify import Notifier, flush_digest
from joelclaw.gateway.service import Gateway, request_drain
from joelclaw.integrations.telegram import TelegramError


class GatewayContext(Notifier):
    """What `ctx.gateway` returns inside a function."""

    def sleeping(self) -> bool:
        """Sleep mode: everything but the owner's messages and fatal alerts is held."""
        return Gateway(engine(self.ctx)).sleeping()

    def flush_digest(self) -> dict[str, Any]:
        """Send the batched notifications as one digest now."""
        return flush_digest(engine(self.ctx))

    def heartbeat(self) -> dict[str, Any]:
        """The gateway worker's last heartbeat: `{"age_s": seconds or None, "stale": bool}`."""
        from joelclaw.health import gateway_alive

        rt = engine(self.ctx)
        beat = rt.redis.get(keys.GATEWAY_HEARTBEAT)
        age = time.time() - float(beat) if beat else None
        return {"age_s": age, "stale": not gateway_alive(rt.settings, age)}

    def claim_stale_alert(self, seconds: float) -> bool:
        """True at most once per `seconds`: the stale-heartbeat alert may go out now."""
        return cooldown(engine(self.ctx).redis, keys.GATEWAY_STALE_ALERTED, seconds)

    def accept_update(self, update: dict[str, Any]) -> str | None:
        """A Telegram update from the webhook route, queued like a polled one (and the drain
        asked to run): the queued message's id, None for one ignored or already seen."""
        from joelclaw.gateway import inbound

        rt = engine(self.ctx)
        stored = inbound.accept_update(Gateway(rt), update)
        if stored:
            request_drain(rt)
        return stored

    def as_owner_message(self, chat: int | None, text: str, *, idem_key: str,
                         meta: dict[str, Any] | None = None) -> dict[str, Any]:
        """Queue `text` as the owner's own message in `chat` (the agent answers it there),
        once per `idem_key`."""
        from joelclaw.gateway.owner import as_owner_message

        return as_owner_message(engine(self.ctx), chat, text, idem_key=idem_key, meta=meta)

    def edit_message(self, chat_id: int, message_id: int, text: str) -> bool:
        """Replace the text of a message the bot sent; False when it cannot (no Telegram, the
        message too old or deleted)."""
        tg = Gateway(engine(self.ctx)).telegram
        if tg is None:
            return False
        try:
            tg.edit_message_text(chat_id, message_id, to_telegram_html(text))
        except TelegramError:
            return False
        return True
