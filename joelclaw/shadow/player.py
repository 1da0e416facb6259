"""The shadow run's answer to every external call its re-executed steps make: the recording,
never the service, except where the options allow it.

    write / notify call   the recorded answer; no recording -> refused (ShadowRefused)
    read call             the recorded answer; none -> sent only to a service in `allow`
    model call            the cassette, or the provider when re-asking (`reask`, `model`);
                          a re-ask reports how the answer changed, and what it cost

Calls are matched to recordings by step and order (the n-th call of the step), so a changed
prompt still finds its cassette; the report says when the request changed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from joelclaw.cassettes.model import answer_text
from joelclaw.effects import ACTS, EFFECTS
from joelclaw.integrations.errors import NotSent
from joelclaw.shadow.report import Held, ModelCall, Options, RunReport, diff

if TYPE_CHECKING:
    from joelclaw.cassettes import Cassette
    from joelclaw.integrations.tape import Call, Send

Price = Callable[[str, int, int], float]


class ShadowRefused(NotSent):
    """A shadow run does not send this call (it would act, or it has no recording)."""


class Player:
    def __init__(self, cassettes: dict[tuple[str, int], Cassette], options: Options,
                 report: RunReport, price: Price) -> None:
        self.cassettes, self.options, self.report, self.price = cassettes, options, report, price
        self.step: str | None = None
        self.effect = "pure"
        self.seq = 0
        self._asked: ModelCall | None = None  # the model call whose usage comes next

    @contextlib.contextmanager
    def in_step(self, key: str, effect: str) -> Iterator[None]:
        saved = self.step, self.effect, self.seq
        self.step, self.effect, self.seq = key, effect, 0
        try:
            yield
        finally:
            self.step, self.effect, self.seq = saved

    def play(self, call: Call, send: Send) -> httpx.Response:
        self.seq += 1
        recorded = self.cassettes.get((self.step, self.seq)) if self.step is not None else None
        if recorded is not None and (recorded.service, recorded.method) != (call.service,
                                                                         call.method):
            recorded = None  # the code now calls something else here
        what = f"{call.service} {call.method} {call.path}"
        if EFFECTS.index(call.effect) > EFFECTS.index(self.effect):
            self.report.undeclared.append(
                f"{self.step}: a {call.effect} call ({what}) in a {self.effect} step")
        if call.kind != "http" and self.options.asks_models:
            return self._ask(call, send, recorded)
        if recorded is not None and not recorded.truncated:
            if call.effect in ACTS:
                self.report.held.append(Held(step=self.step, what=what, effect=call.effect,
                                             outcome="replayed"))
            if call.kind != "http":
                self._replayed(call, recorded)
            return recorded.answer().response(call)
        if call.effect not in ACTS and call.service in self.options.allow:
            self.report.provider_calls += 1
            return send(None)
        self.report.held.append(Held(step=self.step, what=what, effect=call.effect,
                                     outcome="refused"))
        raise ShadowRefused(call.service, f"{call.method} {call.path}: no recording of this "
                            f"{call.effect} call, and a shadow run does not send it")

    def usage(self, usage: Any) -> None:
        """The usage a client reports after each model call: a re-asked call's cost counts."""
        asked, self._asked = self._asked, None
        if asked is None:
            return
        asked.input_tokens, asked.output_tokens = usage.input_tokens, usage.output_tokens
        asked.cost_usd = self.price(usage.model, usage.input_tokens, usage.output_tokens)
        self.report.cost_usd = round(self.report.cost_usd + asked.cost_usd, 8)

    def _replayed(self, call: Call, recorded: Cassette) -> None:
        text = recorded.text()
        self.report.model_calls.append(ModelCall(
            step=self.step, seq=self.seq, service=call.service, model=recorded.model,
            mode="replayed", request_changed=recorded.request != call.request,
            recorded=text, shadow=text))

    def _ask(self, call: Call, send: Send, recorded: Cassette | None) -> httpx.Response:
        body = call.request.get("json")
        ask_with = {**body, "model": self.options.model} if (
            self.options.model and isinstance(body, dict)) else None
        self.report.provider_calls += 1
        response = send(ask_with)
        try:
            fresh = answer_text(call.kind, response.json())
        except ValueError:
            fresh = None
        before = recorded.text() if recorded is not None else None
        model = (ask_with or body or {}).get("model") if isinstance(body, dict) else None
        self._asked = ModelCall(
            step=self.step, seq=self.seq, service=call.service, model=model, mode="re-asked",
            request_changed=recorded is None or recorded.request != call.request,
            same=before == fresh, recorded=before, shadow=fresh,
            diff=diff(before or "", fresh or ""))
        self.report.model_calls.append(self._asked)
        return response
