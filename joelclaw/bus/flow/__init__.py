"""What holds a run back or lets it go: the admission gate (concurrency, throttle, rate
limit, singleton, idempotency, semantic dedupe), cancel-on events, debounce and batch timers,
absence triggers' deadlines (`absence`), waits for an event (`waits`), and the explanation of
why a run is where it is (`explain_run`). `THROTTLE_SLACK`: how close to its reserved start
a throttled run may be woken and just start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.flow import absence, waits
    from joelclaw.bus.flow.cancel import register as register_cancel_on
    from joelclaw.bus.flow.explain import explain_run
    from joelclaw.bus.flow.gate import THROTTLE_SLACK

__all__ = [
    "THROTTLE_SLACK", "absence", "explain_run", "register_cancel_on", "waits",
]

__getattr__, __dir__ = door(__name__, {
    "THROTTLE_SLACK": "gate:THROTTLE_SLACK",
    "absence": "absence",
    "explain_run": "explain:explain_run",
    "register_cancel_on": "cancel:register",
    "waits": "waits",
})
