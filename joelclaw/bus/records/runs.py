"""A run: one invocation of a function for one event (or a batch, or a cron tick).

The `Run` model and the encoding of its Redis hash: scalars are stored as plain strings (so Lua
compares `status` with `'completed'`, and a flag is `'1'`), structured fields as JSON. The same
hash holds the run's step trace records (fields `t:<step>`) and memo records (`m:<step>`), so
an execution reads its run in one command and a finished run expires as one key. Only
`RunStore` (joelclaw.bus.records.run_store) reads and writes run hashes, through these functions.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from joelclaw.bus.records.statuses import (
    STATUSES as STATUSES,  # re-exported: callers name them here
)
from joelclaw.bus.records.statuses import TERMINAL as TERMINAL
from joelclaw.bus.records.statuses import RunStatus as RunStatus

TEXT = frozenset({"id", "function", "status", "trigger", "replay_of", "rerun_from",
                  "cancel_reason"})
NUMBER = frozenset({"created_at", "started_at", "ended_at", "queue_delay_ms", "execution_ms",
                    "throttle_at"})
INTEGER = frozenset({"attempts", "executions", "priority"})
FLAG = frozenset({"cancel_requested", "admitted"})
STRUCTURED = frozenset({"event", "output", "error", "parent", "batch", "held", "holds",
                        "history"})
TRACE = "t:"  # field prefix of a step's trace record
MEMO = "m:"  # field prefix of a step's memo record
# Written only when set, so plain runs stay small.
OPTIONAL = frozenset({"priority", "batch", "admitted", "throttle_at", "held", "holds",
                      "rerun_from", "cancel_reason", "history"})
HISTORY_KEEP = 50  # executions a run's record lists (the newest); `executions` counts them all


def new_run_id() -> str:
    """Time-ordered ids (ms prefix) sort naturally in listings."""
    return f"run-{int(time.time() * 1000):013d}-{uuid.uuid4().hex[:8]}"


class Run(BaseModel):
    id: str
    function: str
    status: RunStatus = RunStatus.QUEUED
    trigger: str = "event"  # event | cron | invoke | replay | rerun | debounce | batch
    event: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    attempts: int = 0  # failed attempts outside steps (function-level retry counter)
    executions: int = 0  # times a worker ran the function's body (each resume is one)
    # The executions, newest last: start, end, worker, what it ended in (and its error).
    history: list[dict[str, Any]] = Field(default_factory=list)
    output: Any = None
    error: dict[str, Any] | None = None
    parent: dict[str, Any] | None = None  # {"run": id, "step": key} when invoked
    replay_of: str | None = None
    cancel_requested: bool = False
    cancel_reason: str | None = None  # who asked, recorded when the run ends cancelled
    queue_delay_ms: float = 0.0
    execution_ms: float = 0.0
    priority: int | None = None  # broker level, 0 highest
    batch: list[dict[str, Any]] | None = None  # the events of a batched run
    admitted: bool = False  # singleton/idempotency/rate limit passed (decided once)
    throttle_at: float | None = None  # the start time throttling reserved for this run
    held: dict[str, Any] | None = None  # the limit holding this queued run right now
    holds: list[dict[str, Any]] = Field(default_factory=list)  # past holds, for the trace
    rerun_from: str | None = None  # the failed step a rerun starts from

    @property
    def event_id(self) -> str | None:
        return self.event.get("id")

    @property
    def duration_ms(self) -> float | None:
        if self.ended_at is None:
            return None
        return round((self.ended_at - self.created_at) * 1000, 1)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id, "function": self.function, "status": self.status,
            "trigger": self.trigger, "event_name": self.event.get("name"),
            "event_id": self.event_id, "created_at": self.created_at,
            "started_at": self.started_at, "ended_at": self.ended_at,
            "duration_ms": self.duration_ms, "attempts": self.attempts,
            "queue_delay_ms": round(self.queue_delay_ms, 1),
            "execution_ms": round(self.execution_ms, 1),
        }


class StepTrace(BaseModel):
    """One step's trace record: what the step is, how its latest attempt went (`attempts` is
    its number) and the earlier attempts (`history`, see `joelclaw.bus.records.attempts`).

    What only some kinds of step have (a wait's match, an invoke's function, a canvas's tasks,
    a sleep's end) is kept as extra fields. The engine builds a record step by step, so it also
    reads and writes like a mapping (`record.get("status")`, `record.update(...)`); readers use
    the attributes. The run store alone encodes it: the fields that were set, as JSON.
    """

    model_config = ConfigDict(extra="allow", defer_build=True)

    key: str
    type: str
    status: str | None = None  # running | retrying | completed | failed | sleeping | waiting ...
    attempts: int | None = 0  # None: a task step whose deliveries nobody counted
    started_at: float | None = None  # the first attempt's start
    attempt_started_at: float | None = None  # the latest attempt's start
    ended_at: float | None = None
    queue_delay_ms: float | None = None
    execution_ms: float | None = None
    next_attempt_at: float | None = None  # while retrying
    deferred: str | None = None  # why a retry waits without spending an attempt (Defer)
    worker: str | None = None
    code_version: str | None = None
    output: Any = None  # a size-capped, redacted preview
    error: dict[str, Any] | None = None  # name, message, stack
    history: list[dict[str, Any]] = Field(default_factory=list)
    llm: dict[str, Any] | None = None  # the step's LLM calls: tokens, cost (stepnotes)
    effect: str | None = None  # pure | read | write | notify (joelclaw.effects)
    reused_from: str | None = None  # the run a rerun took this step's result from

    # -- the mapping view the engine builds records with ---------------------------------------

    # The mapping view reads pydantic's own storage (`__dict__`, the set of fields set, the
    # extras) directly: the engine calls it a few dozen times per step, and pydantic's
    # `model_fields` and `model_fields_set` are properties that cost a lookup each time.

    def get(self, name: str, default: Any = None) -> Any:
        if name in _DECLARED:
            return self.__dict__[name] if name in self.__pydantic_fields_set__ else default
        return (self.__pydantic_extra__ or {}).get(name, default)

    def __getitem__(self, name: str) -> Any:
        if name not in self:
            raise KeyError(name)
        return self.get(name)

    def __setitem__(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def __contains__(self, name: object) -> bool:
        return name in self.__pydantic_fields_set__ or name in (self.__pydantic_extra__ or {})

    def update(self, fields: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        # A declared field is set as pydantic sets one without validation (the value, and
        # the name marked as set), without its per-attribute dispatch: the engine updates a
        # dozen fields per step. Anything else (extra fields) goes through pydantic.
        declared, values, set_now = _DECLARED, self.__dict__, self.__pydantic_fields_set__
        for source in (fields, more):
            if not source:
                continue
            for name, value in source.items():
                if name in declared:
                    values[name] = value
                    set_now.add(name)
                else:
                    setattr(self, name, value)

    def pop(self, name: str, default: Any = None) -> Any:
        if name in _DECLARED:
            set_now = self.__pydantic_fields_set__
            if name not in set_now:
                return default
            value = self.__dict__[name]
            self.__dict__[name] = type(self).model_fields[name].get_default(
                call_default_factory=True)
            set_now.discard(name)
            return value
        extra = self.__pydantic_extra__
        if not extra or name not in extra:
            return default
        self.__pydantic_fields_set__.discard(name)  # so `name in record` is False again
        return extra.pop(name)

    def items(self) -> Iterable[tuple[str, Any]]:
        return self.fields().items()

    def fields(self) -> dict[str, Any]:
        """The fields that were set, as the store keeps them (and the views show them)."""
        return self.model_dump(exclude_unset=True)

    def stored(self) -> dict[str, Any]:
        """The same fields, in the same order, without copying their values: for encoding at
        once (the store writes each record twice per step; `model_dump` copies every nested
        list and dict first). Never hand it out: its lists and dicts are the record's."""
        set_now, values = self.__pydantic_fields_set__, self.__dict__
        out = {name: values[name] for name in _ORDER if name in set_now}
        if self.__pydantic_extra__:
            out.update(self.__pydantic_extra__)
        return out


_ORDER = tuple(StepTrace.model_fields)  # declared fields, in the order they are stored
_DECLARED = frozenset(_ORDER)
assert not StepTrace.model_config.get("validate_assignment")  # update() relies on it


_JSON = json.JSONEncoder(default=str)  # json.dumps(value, default=str), built once


def _encode_json(value: Any) -> str:
    return _JSON.encode(value)


def _encode_flag(value: Any) -> str:
    return "" if value is None else "1" if value else "0"


def _encode_integer(value: Any) -> str:
    return "" if value is None else str(int(value))


def _encode_number(value: Any) -> str:
    return "" if value is None else repr(float(value))


def _encode_text(value: Any) -> str:
    return "" if value is None else str(value)


# Each field's encoder: one lookup per field (an execution writes its run's fields twice).
_ENCODERS: dict[str, Callable[[Any], str]] = {
    **dict.fromkeys(TEXT, _encode_text), **dict.fromkeys(NUMBER, _encode_number),
    **dict.fromkeys(INTEGER, _encode_integer), **dict.fromkeys(FLAG, _encode_flag),
    **dict.fromkeys(STRUCTURED, _encode_json)}


def encode_value(name: str, value: Any) -> str:
    """One field's stored form."""
    return _ENCODERS.get(name, _encode_text)(value)


def encode_fields(fields: Mapping[str, Any]) -> dict[str, str]:
    encoders = _ENCODERS
    return {name: encoders.get(name, _encode_text)(value) for name, value in fields.items()}


def encode(run: Run) -> dict[str, str]:
    """A new run's hash, leaving out optional fields that are not set."""
    return encode_fields({k: v for k, v in run.model_dump().items()
                          if k not in OPTIONAL or _is_set(v)})


def _text(text: str) -> str | None:
    return text if text != "" else None


def _flag(text: str) -> bool | None:
    return text == "1" if text != "" else None


def _integer(text: str) -> int | None:
    return int(text) if text != "" else None


def _number(text: str) -> float | None:
    return float(text) if text != "" else None


def _json(text: str) -> Any:
    return json.loads(text) if text != "null" else None  # most structured fields are unset


# Each field's decoder (from its text; "" is unset, except in JSON): one lookup per field
# instead of a test per kind, for the run record is decoded at the start of every execution.
_DECODERS: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(TEXT, _text), **dict.fromkeys(NUMBER, _number),
    **dict.fromkeys(INTEGER, _integer), **dict.fromkeys(FLAG, _flag),
    **dict.fromkeys(STRUCTURED, _json)}


def decode_value(name: str, raw: bytes | str) -> Any:
    return _DECODERS.get(name, _text)(raw.decode() if isinstance(raw, bytes) else raw)


# The same by the field's name as Redis returns it (bytes), with the name: the run store
# decodes a run's hash without decoding the record's field names first.
RAW_DECODERS = {name.encode(): (name, decoder) for name, decoder in _DECODERS.items()}


def record_field(fields: dict[str, Any], name: str, raw: bytes | str) -> None:
    """Decode one field of the run record into `fields` (left out when unset)."""
    decoded = decode_value(name, raw)
    if decoded is not None:
        fields[name] = decoded


def record_raw_field(fields: dict[str, Any], field: bytes, raw: bytes | str) -> bool:
    """The same for a record field named as Redis returns it (bytes), without decoding its
    name; False when `field` is not one of the record's (a trace, memo or unknown field)."""
    found = RAW_DECODERS.get(field)
    if found is None:
        return False
    decoded = found[1](raw.decode() if isinstance(raw, bytes) else raw)
    if decoded is not None:
        fields[found[0]] = decoded
    return True


def decode(raw: Mapping[bytes, bytes]) -> Run:
    """The run record from its hash (trace and memo fields are left to their readers)."""
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.decode()
        if name.startswith((TRACE, MEMO)):
            continue
        record_field(fields, name, value)
    return Run.model_validate(fields)


RECORD_FIELDS = tuple(Run.model_fields)


def decode_fields(values: list[bytes | None]) -> Run | None:
    """From an HMGET of RECORD_FIELDS; None when the run does not exist."""
    raw = {name.encode(): value for name, value in zip(RECORD_FIELDS, values, strict=True)
           if value is not None}
    return decode(raw) if raw else None


def _is_set(value: Any) -> bool:
    return value is not None and value is not False and value != []


def lua_terminal_table() -> str:
    """The terminal statuses as a Lua table, for scripts that check a run's status."""
    entries = ", ".join(f"['{status}']=1" for status in sorted(TERMINAL))
    return f"local TERMINAL = {{{entries}}}\n"
