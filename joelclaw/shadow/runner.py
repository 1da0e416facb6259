"""Shadow replay: run recorded runs again on the current code, with nothing leaving the machine
but what the options allow, and report what came out different.

The function body runs in this process with `ShadowSteps` for `ctx.step`, a player answering
every client call (`joelclaw.integrations.tape`), and every extension's service (the gateway,
memory, ...) replaced by a stand-in that records the use and does nothing. Cooldowns are only
looked at, never claimed. The recorded run is read, never changed.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from joelclaw.bus.execution import Context, Cooldowns, Step
from joelclaw.cassettes import CassetteStore
from joelclaw.errors import NotFound, StepInterrupt
from joelclaw.events.model import Event
from joelclaw.integrations import tape
from joelclaw.shadow.player import Player
from joelclaw.shadow.report import (
    Held,
    Options,
    ReportStore,
    RunReport,
    ShadowReport,
    comparable,
    diff,
)
from joelclaw.shadow.steps import ShadowSteps
from joelclaw.telemetry.spend import cost

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.shadow")
FINISHED = ("completed", "failed")


def shadow_run(bus: Bus, run_id: str, options: Options | None = None) -> RunReport:
    """Replay one recorded run on the current code and compare."""
    options = options or Options()
    loaded = bus.runs.load(run_id)
    run = loaded.run
    if run is None:
        raise NotFound(f"no run with id {run_id!r} (runs expire after "
                       f"{bus.settings.runs.retention_days:g} days)")
    report = RunReport(run_id=run.id, function=run.function,
                       recorded_output=comparable(run.output))
    fn = bus.function(run.function)
    if fn is None:
        report.error = f"the function {run.function!r} no longer exists"
        report.settle()
        return report
    player = Player(CassetteStore(bus.redis).of_run(run.id), options, report,
                    lambda model, tin, tout: cost(bus.settings, model, tin, tout))
    steps = ShadowSteps(loaded.memo, loaded.trace, player, report)
    ctx = ShadowContext(event=Event.model_validate(run.event),
                  step=Step(steps),  # type: ignore[arg-type]  # the same step kinds
                  run_id=run.id, attempt=1, function_id=fn.id, _runtime=bus,
                  log=logging.getLogger(f"joelclaw.shadow.{fn.id}"),
                  batch=[Event.model_validate(e) for e in run.batch] if run.batch else None,
                  _services={name: StandIn(name, report) for name in bus.services})
    output: Any = None
    try:
        with tape.playing(player):
            output = comparable(fn.handler(ctx))
    except StepInterrupt as exc:
        report.error = str(exc)
    except Exception as exc:
        report.error = f"{type(exc).__name__}: {exc}"
    report.shadow_output = output
    if run.status == "failed":
        report.output_same = report.error is not None
    else:
        report.output_same = report.error is None and output == report.recorded_output
    if not report.output_same and report.error is None:
        report.output_diff = diff(report.recorded_output, output)
    if run.status == "failed" and report.error is not None:
        report.error = None  # failing again, as recorded, is the same outcome
        report.output_same = True
    report.settle()
    return report


def shadow_many(bus: Bus, *, run_ids: list[str] | None = None, function: str | None = None,
                since: float | None = None, limit: int = 50,
                options: Options | None = None, save: bool = True) -> ShadowReport:
    """Replay the named runs, or the finished runs of `function` within `since` seconds."""
    options = options or Options()
    selection: dict[str, Any] = {"runs": run_ids} if run_ids else {
        "function": function, "since_seconds": since, "limit": limit}
    if not run_ids:
        cutoff = time.time() - since if since is not None else None
        found = bus.runs.list(function=function, status=FINISHED, since=cutoff, limit=limit)
        run_ids = [r.id for r in reversed(found)]  # oldest first, as they happened
    report = ShadowReport(selection=selection, options=options)
    for run_id in run_ids:
        report.runs.append(shadow_run(bus, run_id, options))
    if save:
        ReportStore(bus.redis).save(report)
    return report


class ShadowContext(Context[Any]):
    """A context whose cooldowns are looked at, never claimed or reset."""

    @property
    def cooldown(self) -> Cooldowns:
        return DryCooldowns(self._runtime.redis)


class DryCooldowns(Cooldowns):
    def claim(self, name: str, seconds: float) -> bool:
        return self.remaining(name) <= 0

    def restart(self, name: str, seconds: float) -> None:
        return None

    def reset(self, name: str) -> None:
        return None


class StandIn:
    """An extension's service in a shadow run: every use is recorded in the report and does
    nothing (returns None)."""

    def __init__(self, name: str, report: RunReport) -> None:
        self._name, self._report = name, report

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)

        def ignored(*args: Any, **kwargs: Any) -> None:
            self._report.held.append(Held(step=None, what=f"ctx.{self._name}.{attr}(...)",
                                          effect="notify", outcome="ignored"))

        return ignored
