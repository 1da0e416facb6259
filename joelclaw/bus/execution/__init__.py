"""Running a function: the executor takes a run's lease and replays its steps, the context
and `ctx.step` a function sees, step kinds (run, sleep, wait, invoke, task and canvas), the
notes code inside a step may add, and the telemetry port an execution reports to."""

from __future__ import annotations

from typing import TYPE_CHECKING

from joelclaw.bus.lazy import door

if TYPE_CHECKING:
    from joelclaw.bus.execution import canvas, nowait
    from joelclaw.bus.execution.canvas import base_id, task_id
    from joelclaw.bus.execution.context import Context, engine
    from joelclaw.bus.execution.executor import execute
    from joelclaw.bus.execution.services import Cooldowns
    from joelclaw.bus.execution.stepbase import STEP_ID_RE
    from joelclaw.bus.execution.stepnotes import StepNote
    from joelclaw.bus.execution.stepnotes import current as current_step_note
    from joelclaw.bus.execution.stepnotes import noting as noting_step
    from joelclaw.bus.execution.steps import Step, Steps
    from joelclaw.bus.execution.telemetry import HOOK as TELEMETRY_HOOK
    from joelclaw.bus.execution.telemetry import Observed

__all__ = [
    "STEP_ID_RE",
    "TELEMETRY_HOOK",
    "Context",
    "Cooldowns",
    "Observed",
    "Step",
    "StepNote",
    "Steps",
    "base_id",
    "canvas",
    "current_step_note",
    "engine",
    "execute",
    "noting_step",
    "nowait",
    "task_id",
]

__getattr__, __dir__ = door(__name__, {
    "Context": "context:Context",
    "Cooldowns": "services:Cooldowns",
    "STEP_ID_RE": "stepbase:STEP_ID_RE",
    "Step": "steps:Step",
    "Steps": "steps:Steps",
    "Observed": "telemetry:Observed",
    "TELEMETRY_HOOK": "telemetry:HOOK",
    "base_id": "canvas:base_id",
    "canvas": "canvas",
    "nowait": "nowait",
    "current_step_note": "stepnotes:current",
    "engine": "context:engine",
    "StepNote": "stepnotes:StepNote",
    "noting_step": "stepnotes:noting",
    "execute": "executor:execute",
    "task_id": "canvas:task_id",
})
