"""How the checks plug in, without the bus knowing them: `install(runtime)` offers
`ctx.checks` and `ctx.snooze` to functions (see `joelclaw.checks.service`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


def install(bus: Bus) -> None:
    """Register the services; no Celery setup is needed."""

    def checks(ctx: Any) -> Any:
        from joelclaw.checks.service import Checks

        return Checks(bus)

    def snoozes(ctx: Any) -> Any:
        from joelclaw.checks.service import Snoozes

        return Snoozes(bus)

    bus.services["checks"] = checks
    bus.services["snooze"] = snoozes
