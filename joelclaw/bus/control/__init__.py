"""The owner's levers on runs and functions: cancel, wake, replay and rerun a run, pause and
resume a function, the same in bulk by filter (`bulk`), and failing the runs of a function a
reload removed (`removed`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.control import bulk, removed
    from joelclaw.bus.control.actions import cancel_run, replay_run, rerun_run, wake_run
    from joelclaw.bus.control.bulk import Selection
    from joelclaw.bus.control.pausing import pause, pause_of, paused, resume

__all__ = [
    "Selection", "bulk", "cancel_run", "pause", "pause_of", "paused", "removed", "replay_run",
    "rerun_run", "resume", "wake_run",
]

__getattr__, __dir__ = door(__name__, {
    "Selection": "bulk:Selection",
    "bulk": "bulk",
    "cancel_run": "actions:cancel_run",
    "pause": "pausing:pause",
    "pause_of": "pausing:pause_of",
    "paused": "pausing:paused",
    "removed": "removed",
    "replay_run": "actions:replay_run",
    "rerun_run": "actions:rerun_run",
    "resume": "pausing:resume",
    "wake_run": "actions:wake_run",
})
