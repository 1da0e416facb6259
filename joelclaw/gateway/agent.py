"""The agent turn: an OpenAI-compatible chat model, an external command, or none.

One turn per chat at a time (the drain holds the chat lock). A turn longer than
`gateway_turn_timeout_seconds` is aborted (the HTTP read timeout, or the child process killed) and
reported. After `llm_fallback_after_failures` consecutive failures the owner is alerted and the
fallback model is used until `llm_probe_interval_seconds` pass, when the primary is tried again.
"""

from __future__ import annotations

import json
import logging
import shlex
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from joelclaw import keys
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


RECALL_HOOK = "recall"  # an extension's (bus, prompt) -> memory text for the agent's prompt


class TurnStuck(Exception):
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
    if s.agent_command:
        return "command"
    if s.llm_api_url and s.llm_model:
        return "llm"
    return "none"


def run_turn(gw: Gateway, chat_id: int, prompt: str) -> TurnResult:
    """Run one turn and always return text to send: the answer or what went wrong."""
    kind = agent_kind(gw)
    if kind == "none":
        return TurnResult(NO_AGENT, True, kind)
    started = time.monotonic()
    model = _model(gw) if kind == "llm" else None
    try:
        text = _command(gw, prompt) if kind == "command" else _llm(gw, chat_id, prompt, model)
    except TurnStuck:
        limit = gw.settings.gateway_turn_timeout_seconds
        _failed(gw, f"stuck for {limit:g}s")
        return TurnResult(f"⏱ The agent turn was aborted: no answer after {limit:g} s.", False,
                          kind, model, time.monotonic() - started)
    except (IntegrationError, OSError, RuntimeError) as exc:
        _failed(gw, str(exc))
        return TurnResult(f"⚠️ The agent turn failed: {exc}", False, kind, model,
                          time.monotonic() - started)
    gw.rt.redis.delete(keys.GW_AGENT_FAILURES)
    result = TurnResult(text.strip() or "(the agent answered nothing)", True, kind, model,
                        time.monotonic() - started)
    gw.rt.redis.set(keys.GW_LAST_TURN, json.dumps({"at": time.time(), "ok": True, "agent": kind,
                                                "model": model, "seconds": result.seconds}))
    return result


def _model(gw: Gateway) -> str | None:
    s = gw.settings
    if s.llm_fallback_model and gw.rt.redis.exists(keys.GW_AGENT_FALLBACK):
        return s.llm_fallback_model
    return s.llm_model


def _llm(gw: Gateway, chat_id: int, prompt: str, model: str | None) -> str:
    s = gw.settings
    limit = s.gateway_turn_timeout_seconds
    client = LLMClient(s.llm_api_url or "", s.llm_api_key, model or s.llm_model or "",
                       timeout=limit, max_attempts=1)
    history = _history(gw, chat_id)
    system = SYSTEM_PROMPT
    recall = gw.rt.hooks.get(RECALL_HOOK)
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
    key, budget = keys.gw_history(chat_id), gw.settings.gateway_history_chars
    items = [*_history(gw, chat_id), *turn]
    while items and sum(len(m["content"]) for m in items) > budget:
        items.pop(0)
    pipe = gw.rt.redis.pipeline(transaction=True)
    pipe.delete(key)
    if items:
        pipe.rpush(key, *(json.dumps(m) for m in items))
    pipe.execute()


def _command(gw: Gateway, prompt: str) -> str:
    limit = gw.settings.gateway_turn_timeout_seconds
    try:
        done = subprocess.run(shlex.split(gw.settings.agent_command or ""), input=prompt,
                              capture_output=True, text=True, timeout=limit, check=False)
    except subprocess.TimeoutExpired as exc:  # run() kills the child before raising
        raise TurnStuck() from exc
    if done.returncode != 0:
        raise RuntimeError(f"agent command exited {done.returncode}: {done.stderr.strip()[:300]}")
    return done.stdout


def _failed(gw: Gateway, reason: str) -> None:
    """Count a failure; at the threshold alert the owner and switch to the fallback model."""
    s, r = gw.settings, gw.rt.redis
    r.set(keys.GW_LAST_TURN, json.dumps({"at": time.time(), "ok": False, "error": reason[:300]}))
    failures = int(r.incr(keys.GW_AGENT_FAILURES))
    log.warning("agent turn failed (%d in a row): %s", failures, reason)
    if failures < s.llm_fallback_after_failures:
        return
    r.delete(keys.GW_AGENT_FAILURES)
    switch = ""
    if s.llm_fallback_model and agent_kind(gw) == "llm":
        r.set(keys.GW_AGENT_FALLBACK, s.llm_fallback_model, ex=int(s.llm_probe_interval_seconds))
        switch = f" Switching to the fallback model {s.llm_fallback_model}; the primary is " \
                 f"tried again in {s.llm_probe_interval_seconds:g} s."
    gw.queue.enqueue("gateway", f"🚨 The agent failed {failures} turns in a row "
                     f"(last: {reason[:200]}).{switch}", priority=1,
                     meta={"type": "gateway.agent.failing"})
