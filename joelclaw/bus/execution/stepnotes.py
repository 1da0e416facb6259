"""What code running inside a step may add to that step's trace record, without a handle on
the step: the step being executed is a context variable while its callable runs.

`current()` is the running step's `StepNote` (None outside any step). LLM usage is the one
kind of note today (`add_llm`, used by `joelclaw.telemetry.spend`): it is summed per step and
written into the step's trace record as `llm` (calls, tokens, cost, models).
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joelclaw import provenance

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.bus.records import StepTrace

_current: contextvars.ContextVar[StepNote | None] = contextvars.ContextVar(
    "joelclaw_step", default=None)


@dataclass
class StepNote:
    bus: Bus
    run_id: str
    function_id: str
    step: str
    llm: dict[str, Any] = field(default_factory=dict)
    event_id: str = ""  # the event the run serves: provenance of what the step writes
    exchanges: int = 0  # external calls made so far by this attempt (cassettes number them)

    def next_exchange(self) -> int:
        """The 1-based number of this attempt's next external call."""
        self.exchanges += 1
        return self.exchanges

    def add_llm(self, model: str, input_tokens: int, output_tokens: int, cost: float) -> None:
        llm = self.llm
        llm["calls"] = int(llm.get("calls", 0)) + 1
        llm["input_tokens"] = int(llm.get("input_tokens", 0)) + input_tokens
        llm["output_tokens"] = int(llm.get("output_tokens", 0)) + output_tokens
        llm["cost_usd"] = round(float(llm.get("cost_usd", 0.0)) + cost, 8)
        models = llm.setdefault("models", [])
        if model not in models:
            models.append(model)


def current() -> StepNote | None:
    return _current.get()


class noting:  # a context manager used as a function: `with noting(note, record):`
    """Run a step's callable with `note` current (and its provenance); its notes go into
    `record` at the end. A class, not a generator: it runs around every step."""

    __slots__ = ("_note", "_provenance", "_record", "_token")

    def __init__(self, note: StepNote, record: StepTrace | dict[str, Any]):
        self._note, self._record = note, record

    def __enter__(self) -> StepNote:
        note = self._note
        self._token = _current.set(note)
        self._provenance = provenance.enter(note.event_id, note.run_id, note.step,
                                            note.function_id)
        return note

    def __exit__(self, *exc: object) -> None:
        provenance.leave(self._provenance)
        _current.reset(self._token)
        if self._note.llm:
            self._record["llm"] = self._note.llm
