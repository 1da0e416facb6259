"""LLM spend: every call's model, tokens and cost, per step, per function and per day, and the
daily budget that holds background LLM work once it is spent.

For other modules (the one API to use):

- `record_usage(bus, model=..., input_tokens=..., output_tokens=..., kind=...)` records one
  call. The LLM and embeddings clients call it for you (through
  `joelclaw.integrations.usage.report`, whose sink the telemetry extension installs); a client
  of another OpenAI-compatible endpoint (e.g. `/v1/audio/transcriptions`) reports its answer
  with `usage.report(usage.from_answer("transcription", model, answer))`, or calls
  `record_usage` directly (`cost_usd=` when the price is not per token).
- `allow_background(bus, "what")` at the start of background LLM work (inside a step): past
  100 % of `JOELCLAW_LLM_DAILY_BUDGET_USD` it raises `Defer` until the next day (in
  `JOELCLAW_TIMEZONE`), which the step waits out without spending an attempt, and whose reason
  `joelclaw explain <run>` shows. The owner's own agent turns never call it, so they continue.

Cost = input tokens * input price + output tokens * output price, prices per million tokens
from `JOELCLAW_LLM_PRICES` (`"*"` for unlisted models). Inside a step the call is also added to
that step's trace record (`llm`: calls, tokens, cost, models). Past 80 % of the budget the owner
is told once per date (a gateway notification).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from joelclaw import keys
from joelclaw.bus.execution import current_step_note
from joelclaw.coordination.cooldown import cooldown
from joelclaw.errors import Defer
from joelclaw.integrations.usage import Usage
from joelclaw.telemetry.events import TelemetryEvent, emit

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings

log = logging.getLogger("joelclaw.spend")
WARN_AT = 0.8
OUTSIDE = "(outside a run)"


def price(settings: Settings, model: str) -> tuple[float, float]:
    """USD per million (input, output) tokens."""
    table = settings.llm.prices
    entry = table.get(model) or table.get("*") or {}
    return float(entry.get("input", 0.0)), float(entry.get("output", 0.0))


def cost(settings: Settings, model: str, input_tokens: int, output_tokens: int) -> float:
    pin, pout = price(settings, model)
    return round((input_tokens * pin + output_tokens * pout) / 1_000_000, 8)


def today(settings: Settings, now: float | None = None) -> str:
    return datetime.fromtimestamp(now or time.time(), ZoneInfo(settings.timezone)).strftime(
        "%Y-%m-%d")


def next_day_at(settings: Settings, now: float | None = None) -> float:
    zone = ZoneInfo(settings.timezone)
    local = datetime.fromtimestamp(now or time.time(), zone)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.timestamp()


def record_usage(bus: Bus | None, *, model: str, input_tokens: int, output_tokens: int = 0,
                 kind: str = "chat", function: str | None = None,
                 cost_usd: float | None = None) -> dict[str, Any] | None:
    """Record one LLM call; returns what was recorded (None without a bus to record on)."""
    note = current_step_note()
    if note is not None:
        bus = note.bus
    if bus is None:
        return None
    settings = bus.settings
    spent = cost_usd if cost_usd is not None else cost(settings, model, input_tokens,
                                                      output_tokens)
    fn = function or (note.function_id if note is not None else OUTSIDE)
    if note is not None:
        note.add_llm(model, input_tokens, output_tokens, spent)
    date = today(settings)
    day = keys.spend_day(date)
    pipe = bus.redis.pipeline(transaction=True)
    pipe.hincrbyfloat(day, "usd", spent)
    pipe.hincrby(day, "calls", 1)
    pipe.hincrby(day, "input_tokens", input_tokens)
    pipe.hincrby(day, "output_tokens", output_tokens)
    pipe.hincrbyfloat(day, f"fn:{fn}:usd", spent)
    pipe.hincrby(day, f"fn:{fn}:calls", 1)
    pipe.hincrby(day, f"fn:{fn}:tokens", input_tokens + output_tokens)
    pipe.hincrbyfloat(day, f"model:{model}:usd", spent)
    pipe.expire(day, keys.SPEND_TTL)
    pipe.zadd(keys.SPEND_DAYS, {date: time.time()}, nx=True)
    emit(pipe, TelemetryEvent(
        level="info", source="llm", component=fn, action=f"llm.{kind}", success=True,
        run_id=note.run_id if note else None, function_id=fn, cost_usd=spent,
        metadata={"model": model, "input_tokens": input_tokens, "output_tokens": output_tokens,
                  "step": note.step if note else None}), settings)
    total = float(pipe.execute()[0])
    recorded = {"model": model, "kind": kind, "function": fn, "input_tokens": input_tokens,
                "output_tokens": output_tokens, "cost_usd": spent, "day_usd": total}
    _maybe_warn(bus, date, total)
    return recorded


def _maybe_warn(bus: Bus, date: str, total: float) -> None:
    budget = bus.settings.llm.daily_budget_usd
    if not budget or total < WARN_AT * budget:
        return
    if not cooldown(bus.redis, keys.spend_warned(date), 2 * 86400):
        return
    from joelclaw.gateway.notify import deliver

    share = total / budget * 100
    text = (f"💸 LLM spend today ({date}) is ${total:.2f}, {share:.0f} % of the daily budget "
            f"${budget:.2f}." + (" Background LLM work (triage, digest, reflection) now waits "
                                 "for tomorrow; your own turns continue." if share >= 100 else
                                 " At 100 % background LLM work waits for tomorrow."))
    try:
        deliver(bus, text, type="llm.budget.warning", idem_key=f"llm-budget:{date}")
    except Exception:
        log.warning("telling the owner about the LLM budget failed", exc_info=True)


def spent_on(bus: Bus, date: str) -> float:
    raw = bus.redis.hget(keys.spend_day(date), "usd")
    return float(raw) if raw else 0.0


def allow_background(bus: Bus, what: str) -> None:
    """Return if background LLM work may run now; else raise Defer until the next day."""
    budget = bus.settings.llm.daily_budget_usd
    if not budget:
        return
    date = today(bus.settings)
    spent = spent_on(bus, date)
    if spent < budget:
        return
    wake = next_day_at(bus.settings)
    raise Defer(max(1.0, wake - time.time()) + 1.0,
                f"the daily LLM budget is spent (${spent:.2f} of ${budget:.2f} on {date}): "
                f"{what} waits for the next day")


def day_stats(bus: Bus, date: str) -> dict[str, Any]:
    raw = {k.decode(): v.decode() for k, v in bus.redis.hgetall(keys.spend_day(date)).items()}
    functions: dict[str, dict[str, float]] = {}
    models: dict[str, float] = {}
    for field, value in raw.items():
        if field.startswith("fn:"):
            name, _, metric = field[3:].rpartition(":")
            functions.setdefault(name, {})[metric] = float(value)
        elif field.startswith("model:"):
            name, _, _metric = field[6:].rpartition(":")
            models[name] = float(value)
    return {"date": date, "usd": round(float(raw.get("usd", 0)), 6),
            "calls": int(raw.get("calls", 0)),
            "input_tokens": int(raw.get("input_tokens", 0)),
            "output_tokens": int(raw.get("output_tokens", 0)),
            "functions": {k: {"usd": round(v.get("usd", 0.0), 6), "calls": int(v.get("calls", 0)),
                              "tokens": int(v.get("tokens", 0))}
                          for k, v in sorted(functions.items())},
            "models": {k: round(v, 6) for k, v in sorted(models.items())}}


def recent_days(bus: Bus, days: int = 7) -> list[str]:
    members = bus.redis.zrevrange(keys.SPEND_DAYS, 0, -1)
    dates = sorted((m.decode() for m in members), reverse=True)
    return dates[:days]


def recorder(bus: Bus) -> Any:
    """The usage sink for `joelclaw.integrations.usage`: records each reported call."""

    def sink(usage: Usage) -> None:
        record_usage(bus, model=usage.model, input_tokens=usage.input_tokens,
                     output_tokens=usage.output_tokens, kind=usage.kind, function=usage.label
                     if current_step_note() is None else None)

    return sink
