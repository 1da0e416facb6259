"""A step's memo record: what a replay of the function finds for that step.

Exactly one of four states, typed here and encoded only here (JSON in the run's memo hash;
the Lua that resolves waits and invokes stores records this module encoded):

- `Done(value)`: the step finished; a replay returns `value` without running it again.
- `Failed(name, message)`: the step failed for good; a replay raises StepError.

A result stored from outside the run (a matching event, an invoked run's answer, a timeout)
carries `at`, when it was stored, so the trace shows when the step really ended, not when the
run next replayed it.
- `Sleeping(until)`: a durable sleep that has not ended yet.
- `Pending(spec)`: waiting for something outside the run (an event, an invoked function, the
  members of a parallel step); `spec` says what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from joelclaw.bus.records.previews import preview
from joelclaw.errors import StepError


@dataclass(frozen=True)
class Done:
    value: Any = None
    at: float | None = field(default=None, compare=False)  # when stored from outside


@dataclass(frozen=True)
class Failed:
    name: str
    message: str
    at: float | None = field(default=None, compare=False)

    def error(self, key: str) -> StepError:
        return StepError(f"step {key!r} failed: {self.name}: {self.message}",
                         error_type=self.name, step=key)


@dataclass(frozen=True)
class Sleeping:
    until: float


@dataclass(frozen=True)
class Pending:
    spec: dict[str, Any]


Memo = Done | Failed | Sleeping | Pending


def finished(record: Memo | None) -> bool:
    """A result (value or error) exists: the step never runs again."""
    return isinstance(record, Done | Failed)


def encode(record: Memo) -> str:
    """The stored form; raises TypeError/ValueError when a value is not JSON."""
    if isinstance(record, Done):
        return json.dumps(_at({"v": record.value}, record.at))
    if isinstance(record, Failed):
        return json.dumps(_at({"e": {"name": record.name, "message": record.message}},
                              record.at))
    if isinstance(record, Sleeping):
        return json.dumps({"until": record.until})
    return json.dumps({"pending": record.spec})


def decode(raw: bytes | str) -> Memo:
    data = json.loads(raw)
    if "e" in data:
        return Failed(str(data["e"].get("name")), str(data["e"].get("message")), data.get("at"))
    if "v" in data:
        return Done(data["v"], data.get("at"))
    if "pending" in data:
        return Pending(data["pending"])
    return Sleeping(float(data["until"]))


def trace_fields(record: Done | Failed, kind: str) -> tuple[str, dict[str, Any]]:
    """What a result stored from outside says in the step's trace: its status, and its error,
    or its output preview and, for a wait, the event that matched (or that it timed out)."""
    if isinstance(record, Failed):
        return "failed", {"error": {"name": record.name, "message": record.message, "stack": ""}}
    fields: dict[str, Any] = {"output": preview(record.value)}
    if kind == "wait":
        event = record.value if isinstance(record.value, dict) else None
        fields.update(timed_out=event is None, matched=None if event is None else {
            "id": event.get("id"), "name": event.get("name"), "ts": event.get("ts")})
    return "completed", fields


def _at(data: dict[str, Any], at: float | None) -> dict[str, Any]:
    if at is not None:
        data["at"] = at
    return data
