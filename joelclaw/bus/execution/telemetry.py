"""The bus's telemetry port: what an execution tells an observer (spans, telemetry events).

The bus names no implementation: an extension registers a hook under `HOOK` in
`bus.hooks`, called once per execution as `hook(function_id, run, member, started)`; it
returns an `Execution` (or None to observe nothing). Without the hook nothing is done at all,
so the cheap path costs one dict lookup per execution. An observer that raises is logged and
ignored: telemetry never fails a run.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Protocol

from joelclaw.bus.ports import HookKey

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records.runs import Run, StepTrace

log = logging.getLogger("joelclaw.telemetry")


class Execution(Protocol):
    def step(self, record: StepTrace) -> None:
        """A step attempt ended (its trace record: completed, failed or retrying)."""
        ...

    def end(self, status: str | None, fields: dict[str, Any]) -> None:
        """The execution ended; `status` is the run's new status (None for a member)."""
        ...


class ExecutionHook(Protocol):
    def __call__(self, function_id: str, run: Run, member: tuple[str, int] | None,
                 started: float) -> Execution | None:
        """What observes this execution (of a run, or of one parallel member), or None."""
        ...


HOOK: HookKey[ExecutionHook] = HookKey("telemetry")


class Observed:
    """Guards an `Execution`: calls that raise are logged, never propagated."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Execution) -> None:
        self._inner = inner

    def step(self, record: StepTrace) -> None:
        try:
            self._inner.step(record)
        except Exception:  # telemetry never fails a run
            log.warning("telemetry observer failed on a step", exc_info=True)

    def end(self, status: str | None, fields: dict[str, Any]) -> None:
        try:
            self._inner.end(status, fields)
        except Exception:
            log.warning("telemetry observer failed at the end of an execution", exc_info=True)


def observe(bus: Bus, function_id: str, run: Run, member: tuple[str, int] | None,
            started: float) -> Observed | None:
    hook = bus.hooks.get(HOOK)
    if hook is None:
        return None
    try:
        inner = hook(function_id, run, member, started)
    except Exception:
        log.warning("telemetry observer failed at the start of an execution", exc_info=True)
        return None
    return Observed(inner) if inner is not None else None
