"""How the agents plug in, without the bus knowing them: `install(runtime)` offers
`ctx.approvals`, the approval requests and learned categories (joelclaw.agents.approvals)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


def install(bus: Bus) -> None:
    """Register the service; no Celery setup is needed."""

    def approvals(ctx: Any) -> Any:
        from joelclaw.agents.approvals import Approvals

        return Approvals(bus.redis)

    bus.services["approvals"] = approvals
