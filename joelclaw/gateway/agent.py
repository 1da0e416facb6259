"""The agent turn: an OpenAI-compatible chat model, an external command, or none.

One turn per chat at a time (the drain holds the chat lock). A turn longer than
`gateway_turn_timeout_seconds` is aborted (the HTTP read timeout, or the child process killed) and
reported. A failing primary model is replaced by the fallback model within the same turn; after
`llm_fallback_after_failures` consecutive primary failures the owner is alerted (once per streak)
and the fallback model is used first until `llm_probe_interval_seconds` pass, when the primary
is tried again. Each model attempt is bounded by the turn limit.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from joelclaw import keys
from joelclaw.bus.ports import RECALL
from joelclaw.errors import JoelclawError
from joelclaw.integrations import tape
from joelclaw.integrations.http import IntegrationError, TransportError
from joelclaw.integrations.llm import LLMClient

if TYPE_CHECKING:
    from joelclaw.gateway.service import Gateway

log = logging.getLogger("joelclaw.gateway.agent")

NO_AGENT = ("No agent is configured, so I can only run commands (try /help). Set "
            "JOELCLAW_LLM_API_URL and JOELCLAW_LLM_MODEL, or JOELCLAW_AGENT_COMMAND.")
SYSTEM_PROMPT = ("You are joelclaw, the owner's personal assistant, talking on Telegram. "
                 "Answer concisely in Markdown. Notifications from the system arrive as "
                 "prompts: act on what needs it, otherwise acknowledge briefly.")




class TurnStuck(JoelclawError):
    """The agent gave no answer within the turn limit."""


@dataclass
class TurnResult:
    text: str
    ok: bool
    agent: str
    model: str | None = None
    seconds: float = 0.0


def agent_kind(gw: Gateway) -> str:
    s = gw.settings
    if s.gateway.agent_command:
        return "command"
    if s.llm.api_url and s.llm.model:
        return "llm"
    return "none"


def run_turn(gw: Gateway, chat_id: int, prompt: str) -> TurnResult:
    """Run one turn and always return text to send: the answer or what went wrong.

    A failing primary model is replaced by the fallback model within the same turn, so the
    owner gets an answer, not an error; each primary failure still counts toward the alert.
    """
    kind = agent_kind(gw)
    if kind == "none":
        return TurnResult(NO_AGENT, True, kind)
    started = time.monotonic()
    if kind == "command":
        text, error = _attempt(gw, lambda: _command(gw, prompt))
        return _result(gw, kind, None, started, text, error)
    s = gw.settings
    fallback = s.llm.fallback_model if s.llm.fallback_model != s.llm.model else None
    if fallback and gw.rt.redis.exists(keys.GW_AGENT_FALLBACK):  # switched: primary not tried
        text, error = _attempt(gw, lambda: _llm(gw, chat_id, prompt, fallback))
        return _result(gw, kind, fallback, started, text, error, counts=False)
    text, error = _attempt(gw, lambda: _llm(gw, chat_id, prompt, s.llm.model))
    if error is None or not fallback:
        return _result(gw, kind, s.llm.model, started, text, error)
    _failed(gw, error)
    log.warning("primary model %s failed (%s); trying the fallback %s in the same turn",
                s.llm.model, error, fallback)
    text, second = _attempt(gw, lambda: _llm(gw, chat_id, prompt, fallback))
    if second is not None:
        second = f"{error}; the fallback model {fallback} failed too: {second}"
    return _result(gw, kind, fallback, started, text, second, counts=False)


def _attempt(gw: Gateway, call: Callable[[], str]) -> tuple[str | None, str | None]:
    """(answer, None) or (None, what went wrong)."""
    try:
        return call(), None
    except TurnStuck:
        return None, f"no answer after {gw.settings.gateway.turn_timeout_seconds:g} s"
    except (IntegrationError, OSError, RuntimeError) as exc:
        return None, str(exc)


def _result(gw: Gateway, kind: str, model: str | None, started: float, text: str | None,
            error: str | None, *, counts: bool = True) -> TurnResult:
    """The reply for the owner; a success clears the failure streak, a failure is recorded
    (and, with `counts`, counted toward the alert)."""
    seconds = time.monotonic() - started
    r = gw.rt.redis
    if error is not None:
        if counts:
            _failed(gw, error)
        else:
            r.set(keys.GW_LAST_TURN, json.dumps({"at": time.time(), "ok": False,
                                                 "error": error[:300]}))
        stuck = error.startswith("no answer after")
        reply = (f"⏱ The agent turn was aborted: {error}." if stuck
                 else f"⚠️ The agent turn failed: {error}")
        return TurnResult(reply, False, kind, model, seconds)
    if counts:  # the primary (or the command agent) answered
        r.delete(keys.GW_AGENT_FAILURES)
    r.set(keys.GW_LAST_TURN, json.dumps({"at": time.time(), "ok": True, "agent": kind,
                                         "model": model, "seconds": seconds}))
    return TurnResult((text or "").strip() or "(the agent answered nothing)", True, kind, model,
                      seconds)


def _llm(gw: Gateway, chat_id: int, prompt: str, model: str | None) -> str:
    s = gw.settings
    limit = s.gateway.turn_timeout_seconds
    client = LLMClient(s.llm.api_url or "", s.llm.api_key, model or s.llm.model or "",
                       timeout=limit, max_attempts=1, label="gateway-agent-turn")
    history = _history(gw, chat_id)
    system = SYSTEM_PROMPT
    recall = gw.rt.hooks.get(RECALL)
    if recall is not None:
        memory = recall(gw.rt, prompt)
        system += f"\n\nRelevant memory:\n{memory}" if memory else ""
    messages = [{"role": "system", "content": system}, *history,
                {"role": "user", "content": prompt}]
    started = time.monotonic()
    try:
        answer = client.complete(messages)
    except TransportError as exc:
        if time.monotonic() - started >= limit * 0.95:
            raise TurnStuck() from exc
        raise
    finally:
        client.close()
    _remember(gw, chat_id, [{"role": "user", "content": prompt},
                            {"role": "assistant", "content": answer}])
    return answer


def _history(gw: Gateway, chat_id: int) -> list[dict[str, str]]:
    return [json.loads(item) for item in gw.rt.redis.lrange(keys.gw_history(chat_id), 0, -1)]


def _remember(gw: Gateway, chat_id: int, turn: list[dict[str, str]]) -> None:
    """Append the turn, then drop the oldest messages until the history fits its budget."""
    key, budget = keys.gw_history(chat_id), gw.settings.gateway.history_chars
    items = [*_history(gw, chat_id), *turn]
    while items and sum(len(m["content"]) for m in items) > budget:
        items.pop(0)
    pipe = gw.rt.redis.pipeline(transaction=True)
    pipe.delete(key)
    if items:
        pipe.rpush(key, *(json.dumps(m) for m in items))
    pipe.execute()


def _command(gw: Gateway, prompt: str) -> str:
    """The agent command's answer: a `write` call through the tape (the agent may act), so a
    shadow run answers it from a recording or refuses it, never starts it."""
    argv = shlex.split(gw.settings.gateway.agent_command or "")
    call = tape.Call("agent", "EXEC", argv[0] if argv else "", "write")
    return str(tape.local(call, lambda: _execute(gw, prompt)))


def _execute(gw: Gateway, prompt: str) -> str:
    limit = gw.settings.gateway.turn_timeout_seconds
    try:
        done = subprocess.run(shlex.split(gw.settings.gateway.agent_command or ""), input=prompt,
                              capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired as exc:  # run() kills the child before raising
        raise TurnStuck() from exc
    if done.returncode != 0:
        raise RuntimeError(f"agent command exited {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout


def _failed(gw: Gateway, reason: str) -> None:
    """Count a primary failure; at the threshold alert the owner once and switch to the
    fallback model until the probe interval passes. A primary that fails again when probed
    goes straight back to the fallback without another alert (the streak is not over)."""
    s, r = gw.settings, gw.rt.redis
    r.set(keys.GW_LAST_TURN, json.dumps({"at": time.time(), "ok": False, "error": reason[:300]}))
    failures = int(r.incr(keys.GW_AGENT_FAILURES))
    log.warning("agent turn failed (%d in a row): %s", failures, reason)
    if failures < s.llm.fallback_after_failures:
        return
    fallback = s.llm.fallback_model if s.llm.fallback_model != s.llm.model else None
    switch = ""
    if fallback and agent_kind(gw) == "llm":
        r.set(keys.GW_AGENT_FALLBACK, fallback, ex=max(1, int(s.llm.probe_interval_seconds)))
        switch = f" Switching to the fallback model {fallback}; the primary is " \
                 f"tried again in {s.llm.probe_interval_seconds:g} s."
    if failures > s.llm.fallback_after_failures:
        return  # already alerted for this streak
    what = f"The primary model {s.llm.model}" if agent_kind(gw) == "llm" else "The agent"
    gw.queue.enqueue("gateway", f"🚨 {what} failed {failures} turns in a row "
                     f"(last: {reason[:200]}).{switch}", priority=1,
                     meta={"type": "gateway.agent.failing"})
