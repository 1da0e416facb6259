"""The gateway: the owner's Telegram conversation, the outbound queue and its drain (an
extension: joelclaw.gateway.plugin). Functions notify through `ctx.gateway`."""

# The public modules, all that function modules (`tasks/`) may import from here, each
# loaded when taken (`from joelclaw.gateway import notify`); tests/test_door.py holds them to it.
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joelclaw.gateway import budget_answer, notify, worker_queue

__all__ = ["budget_answer", "notify", "worker_queue"]
