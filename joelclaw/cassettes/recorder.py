"""The process's recorder: every external call made inside a step, and every model call
wherever it is made, becomes a cassette (installed as an extension, like the spend sink)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from joelclaw.bus.execution import current_step_note
from joelclaw.cassettes.model import Cassette
from joelclaw.cassettes.store import CassetteStore, new_id
from joelclaw.integrations import tape, usage
from joelclaw.telemetry.spend import cost

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus


class Recorder:
    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.store = CassetteStore(bus.redis)

    def record(self, call: tape.Call, answer: tape.Answer) -> None:
        note = current_step_note()
        if note is None and call.kind == "http":
            return  # outside a step only model calls are kept (polling is not history)
        stored = answer.stored()
        cassette = Cassette(
            id=new_id(), service=call.service, kind=call.kind, effect=call.effect,
            method=call.method, path=call.path, request=call.request, status=answer.status,
            response=stored, content_type=answer.content_type, truncated=answer.truncated,
            **_where(note), **self._priced(call, stored.get("json")))
        self.store.save(cassette)

    def _priced(self, call: tape.Call, body: Any) -> dict[str, Any]:
        if call.kind == "http":
            return {}
        sent = call.request.get("json") or call.request.get("data") or {}
        model = str(sent.get("model") or "") if isinstance(sent, dict) else ""
        used = usage.from_answer(call.kind, model, body)
        return {"model": model or None, "input_tokens": used.input_tokens,
                "output_tokens": used.output_tokens,
                "cost_usd": cost(self.bus.settings, model, used.input_tokens,
                                 used.output_tokens)}


def _where(note: Any) -> dict[str, Any]:
    if note is None:
        return {}
    return {"run_id": note.run_id, "function": note.function_id, "step": note.step,
            "seq": note.next_exchange()}


def install(bus: Bus) -> None:
    """Record this process's external calls from now on."""
    tape.set_recorder(Recorder(bus))
