"""The step kinds of a shadow run: pure and read steps run again on the current code, the rest
return what the recorded run stored for them. Nothing is stored, slept, awaited or sent.

Steps are matched to the recording by key, as a durable replay matches them; each one's outcome
(re-executed or replayed, same or different, with a diff) goes into the run's report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from joelclaw.bus.records import Done, Failed, preview
from joelclaw.effects import DEFAULT, acts, check
from joelclaw.errors import FunctionDefinitionError, StepInterrupt
from joelclaw.shadow.report import StepOutcome, comparable, diff

if TYPE_CHECKING:
    from joelclaw.bus.records import Memo, StepTrace
    from joelclaw.shadow.player import Player
    from joelclaw.shadow.report import RunReport


class ShadowStop(StepInterrupt):
    """The shadow cannot go on: the recorded run never got past this step."""


class ShadowSteps:
    def __init__(self, memo: dict[str, Memo], trace: dict[str, StepTrace], player: Player,
                 report: RunReport) -> None:
        self.memo, self.trace, self.player, self.report = memo, trace, player, report
        self._counts: dict[str, int] = {}

    def _key(self, step_id: str) -> str:
        from joelclaw.bus.execution import STEP_ID_RE

        if not STEP_ID_RE.match(step_id):
            raise FunctionDefinitionError(f"invalid step id {step_id!r}")
        count = self._counts[step_id] = self._counts.get(step_id, 0) + 1
        return step_id if count == 1 else f"{step_id}:{count}"

    # -- the step kinds ------------------------------------------------------------------------

    def run(self, step_id: str, fn: Callable[..., Any], *args: Any,
            effect: str | None = None, **kwargs: Any) -> Any:
        key, declared = self._key(step_id), check(effect) or DEFAULT
        if acts(declared):
            return self._replay(key, "run", declared)
        return self._again(key, "run", declared, lambda: fn(*args, **kwargs))

    def parallel(self, step_id: str, callables: Sequence[Callable[[], Any]], *,
                 effect: str | None = None) -> list[Any]:
        key, declared = self._key(step_id), check(effect) or DEFAULT
        if acts(declared):
            return self._replay(key, "parallel", declared)

        def members() -> list[Any]:
            out = []
            for index, member in enumerate(callables):
                with self.player.in_step(f"{key}[{index}]", declared):
                    out.append(member())
            return out

        return self._again(key, "parallel", declared, members)

    def sleep(self, step_id: str, duration: Any) -> None:
        self._key(step_id)

    def sleep_until(self, step_id: str, when: Any) -> None:
        self._key(step_id)

    def wait_for_event(self, step_id: str, event: str, **_: Any) -> Any:
        return self._replay(self._key(step_id), "wait", "read")

    def send_event(self, step_id: str, events: Any) -> Any:
        return self._replay(self._key(step_id), "send_event", "write")

    def invoke(self, step_id: str, function: str, data: Any = None, **options: Any) -> Any:
        return self._replay(self._key(step_id), "invoke", check(options.get("effect")) or DEFAULT)

    def task(self, step_id: str, task: Any, *args: Any, effect: str | None = None,
             **_: Any) -> Any:
        return self._replay(self._key(step_id), "task", check(effect) or DEFAULT)

    def canvas(self, step_id: str, workflow: Any, *, effect: str | None = None,
               **_: Any) -> Any:
        return self._replay(self._key(step_id), "canvas", check(effect) or DEFAULT)

    # -- replaying and re-executing ------------------------------------------------------------

    def _replay(self, key: str, kind: str, effect: str) -> Any:
        """The recorded result, as the durable replay would return it."""
        record = self.memo.get(key)
        if not isinstance(record, Done | Failed):
            self.report.steps.append(StepOutcome(
                key=key, type=kind, effect=effect, mode="missing", same=False,
                error="the recorded run has no result here; a shadow run does not execute it"))
            raise ShadowStop(f"step {key!r}: no recorded result to replay")
        self.report.steps.append(StepOutcome(
            key=key, type=kind, effect=effect, mode="replayed",
            recorded=_shown(record), shadow=_shown(record)))
        if isinstance(record, Failed):
            raise record.error(key)
        return record.value

    def _again(self, key: str, kind: str, effect: str, call: Callable[[], Any]) -> Any:
        """Run the step on the current code and compare with the recording."""
        record = self.memo.get(key)
        outcome = StepOutcome(key=key, type=kind, effect=effect, mode="re-executed",
                              recorded=_shown(record) if record is not None else None)
        self.report.steps.append(outcome)
        try:
            with self.player.in_step(key, effect):
                value = comparable(call())
        except StepInterrupt:
            raise
        except Exception as exc:
            failed = Failed(type(exc).__name__, str(exc))
            outcome.shadow, outcome.error = _shown(failed), f"{failed.name}: {failed.message}"
            outcome.same = isinstance(record, Failed) and record.name == failed.name
            outcome.diff = None if outcome.same else diff(outcome.recorded, outcome.shadow)
            raise failed.error(key) from exc
        outcome.shadow = preview(value)
        outcome.same = isinstance(record, Done) and comparable(record.value) == value
        if not outcome.same:
            outcome.diff = diff(record.value if isinstance(record, Done) else outcome.recorded,
                                value)
        return value


def _shown(record: Memo | None) -> Any:
    if isinstance(record, Done):
        return preview(record.value)
    if isinstance(record, Failed):
        return {"error": f"{record.name}: {record.message}"}
    return None
