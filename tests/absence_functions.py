"""Functions with absence triggers: loaded only by tests/test_absence.py."""

from __future__ import annotations

from typing import Any

from joelclaw import Context, absent, function
from joelclaw.events.payloads.system import AbsenceDetected


@function("t-absent-device", triggers=[absent("test/device.synced", for_="2s",
                                              key="data.device", if_="event.data.ok")])
def device_silent(ctx: Context[AbsenceDetected]) -> dict[str, Any]:
    """A device that stopped syncing (successful syncs only)."""
    return ctx.event.data.model_dump()


@function("t-absent-any", triggers=[absent("test/ping.*", for_="2s")])
def nothing_pinged(ctx: Context[AbsenceDetected]) -> dict[str, Any]:
    """No ping of any kind, even before the first one."""
    return ctx.event.data.model_dump()
