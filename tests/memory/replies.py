"""Canned LLM answers for memory, in the wire formats the pipeline parses: observer XML,
reflector XML, review JSON. The fake LLM routes on the system prompt, so one fake server serves
the observer, the reflector, the batch review and ordinary agent turns (echoed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.fakes.llm import echo

OBSERVER_XML = """<observations>
<segment>
<narrative>Joel and the agent rebuilt the webhook server in Python.</narrative>
<facts>
- 🔴 Joel wants every webhook signature verified byte-exact [gate=allow confidence=0.92 \
category=jc:rules-conventions reason=explicit rule]
- 🟡 The staging cluster was flaky during the session [gate=hold confidence=0.5 \
category=jc:operations reason=transient]
- 🟢 Joel said good morning [gate=discard confidence=0.9 reason=chatter]
- 🟡 Joel prefers espresso from the Linea Mini before deep work
</facts>
</segment>
</observations>"""

REFLECTOR_XML = """<proposals>
<proposal><section>Hard Rules</section><change>Verify every webhook signature byte-exact \
before parsing the body</change></proposal>
<proposal><section>System Architecture</section><change>(2026-12-01) Webhook routes live in \
webhooks/routes.py and emit typed events (ADR-0104)</change></proposal>
<proposal><section>Joel</section><change>Joel prefers espresso from the Linea Mini before \
deep work</change></proposal>
<proposal><section>Patterns</section><change>add: a note about webhooks</change></proposal>
</proposals>"""


@dataclass
class MemoryLLM:
    """A `FakeLLM.reply`: observer, reflector and review answers, everything else echoed."""

    observer: str | Callable[[str], str] = OBSERVER_XML
    reflector: str | Callable[[str], str] = REFLECTOR_XML
    review: Callable[[str], str] | None = None
    calls: dict[str, int] = field(default_factory=lambda: {"observer": 0, "reflector": 0,
                                                            "review": 0, "agent": 0})

    def __call__(self, messages: list[dict[str, str]]) -> str:
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        user = messages[-1]["content"]
        if system.startswith("You are the observer"):
            return self._answer("observer", self.observer, user)
        if system.startswith("You maintain an AI assistant's long-term memory"):
            return self._answer("reflector", self.reflector, user)
        if system.startswith("You review proposed additions"):
            self.calls["review"] += 1
            return (self.review or promote_all)(user)
        self.calls["agent"] += 1
        return echo(messages)

    def _answer(self, kind: str, canned: str | Callable[[str], str], user: str) -> str:
        self.calls[kind] += 1
        return canned(user) if callable(canned) else canned


def promote_all(user: str) -> str:
    ids = [line.split()[1] for line in user.splitlines() if line.startswith("- p-")]
    return json.dumps({"decisions": [{"id": i, "decision": "promote", "reason": "specific"}
                                     for i in ids]})
