"""Effect budgets: caps on what a function's runs may do to the world, per window and per run.

A looping function or agent could otherwise message the owner, write to Todoist or spend on the
LLM without end. `JOELCLAW_EFFECT_BUDGETS` caps, by function id (`*` for the others), the
`notify`, `write` and `llm_usd` effects (joelclaw.integrations.charges) of each run and of all
the function's runs in a window. The provider clients charge each effect at call time, inside
the step that makes it:

- within the caps it is counted and goes ahead;
- past one, nothing is sent: the step raises `Defer` (it waits without spending an attempt;
  `joelclaw explain` shows why), and the owner is asked once, on Telegram, with buttons bound
  to the waiting run(s): **allow once** (one more effect past the cap), **allow for the day**
  (the function's cap of that kind is lifted until midnight), **stop** (the runs are cancelled).
  An answer wakes the runs at once. Unanswered, a function's window cap lets them go on in the
  next window; a run's own cap keeps it waiting (asked again after a day).

Calls outside a run (the owner's own turns, the gateway) are never counted. The system's own
notices (a breaker's, this module's questions) are exempt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.execution import current_step_note
from joelclaw.durations import humane
from joelclaw.errors import Defer
from joelclaw.integrations import charges
from joelclaw.integrations.usage import Usage

if TYPE_CHECKING:
    from joelclaw.bus.execution import StepNote
    from joelclaw.bus.ports import Bus
    from joelclaw.config import EffectBudget

log = logging.getLogger("joelclaw.budgets")
ASK_WAIT_SECONDS = 86400.0  # a run over its own cap waits this long for an answer, then asks
VERBS = {"once": "allowed once", "day": "allowed for the day", "stop": "stopped"}
LABELS = {"notify": "owner messages", "write": "external writes", "llm_usd": "LLM spend (USD)"}

# KEYS: the run's hash, the function's window hash. ARGV: kind, amount, run cap or "",
# function cap or "", window TTL, run TTL. Returns {0, 0} when charged, else {1 (the run's
# cap) or 2 (the function's), what was spent}. A pass the owner granted is used up first.
_CHARGE = """
local kind, amount = ARGV[1], tonumber(ARGV[2])
local function over(key, cap)
  if cap == '' then return false end
  local spent = tonumber(redis.call('HGET', key, kind) or '0')
  if amount == 0 then return spent >= tonumber(cap) end
  return spent + amount > tonumber(cap)
end
local blocked = 0
if over(KEYS[1], ARGV[3]) then blocked = 1 elseif over(KEYS[2], ARGV[4]) then blocked = 2 end
if blocked > 0 then
  if tonumber(redis.call('HGET', KEYS[1], 'grant:' .. kind) or '0') <= 0 then
    return {blocked, redis.call('HGET', KEYS[blocked], kind) or '0'}
  end
  redis.call('HINCRBY', KEYS[1], 'grant:' .. kind, -1)
end
if amount > 0 then
  redis.call('HINCRBYFLOAT', KEYS[1], kind, amount)
  redis.call('HINCRBYFLOAT', KEYS[2], kind, amount)
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return {0, '0'}
"""


class Budgets:
    """The process's budget (joelclaw.integrations.charges), on the bus's Redis."""

    def __init__(self, bus: Bus):
        self.bus = bus
        self._charge = bus.redis.register_script(_CHARGE)

    def _budget(self) -> tuple[StepNote, EffectBudget] | None:
        note = current_step_note()
        if note is None:
            return None  # outside a run: never counted
        budget = self.bus.settings.budgets.of(note.function_id)
        return (note, budget) if budget is not None else None

    def charge(self, kind: str, amount: float) -> None:
        found = self._budget()
        if found is None:
            return
        note, budget = found
        run_cap, fn_cap = getattr(budget.run, kind), getattr(budget.function, kind)
        if run_cap is None and fn_cap is None:
            return
        if self.bus.redis.exists(keys.budget_day(note.function_id, kind, _today(self.bus))):
            run_cap = fn_cap = None  # the owner allowed it for the day: counted, not capped
        now = time.time()
        window = int(now // budget.window_seconds)
        blocked, spent = self._charge(
            keys=[keys.budget_run(note.run_id), keys.budget_function(note.function_id, window)],
            args=[kind, amount, "" if run_cap is None else run_cap,
                  "" if fn_cap is None else fn_cap, int(2 * budget.window_seconds) + 1,
                  keys.BUDGET_TTL])
        if not blocked:
            return
        if blocked == 1:  # one question per run
            self._pause(note, kind, "run", note.run_id, float(run_cap or 0), float(spent),
                        "this run", wait=ASK_WAIT_SECONDS)
        ends = (window + 1) * budget.window_seconds  # one question per function and window
        self._pause(note, kind, "function", f"{note.function_id}:{window}", float(fn_cap or 0),
                    float(spent), f"{note.function_id} per "
                    f"{humane.duration(budget.window_seconds)}", wait=max(1.0, ends - now) + 0.2)

    def spent(self, usage: Usage) -> None:
        found = self._budget()
        if found is None:
            return
        from joelclaw.telemetry.spend import cost

        note, budget = found
        usd = cost(self.bus.settings, usage.model, usage.input_tokens, usage.output_tokens)
        window = int(time.time() // budget.window_seconds)
        pipe = self.bus.redis.pipeline(transaction=True)
        for key, ttl in ((keys.budget_run(note.run_id), keys.BUDGET_TTL),
                         (keys.budget_function(note.function_id, window),
                          int(2 * budget.window_seconds) + 1)):
            pipe.hincrbyfloat(key, charges.LLM_USD, usd)
            pipe.expire(key, ttl)
        pipe.execute()

    def _pause(self, note: StepNote, kind: str, scope: str, subject: str, cap: float,
               spent: float, per: str, wait: float) -> None:
        """Ask the owner once per `subject` (a run, or a function's window), then wait: `Defer`."""
        fn, run_id = note.function_id, note.run_id
        ask_id = "b" + hashlib.sha256(f"{scope}:{subject}:{kind}".encode()).hexdigest()[:12]
        redis = self.bus.redis
        record = {"id": ask_id, "function": fn, "kind": kind, "scope": scope, "cap": cap,
                  "spent": spent, "run_id": run_id if scope == "run" else None,
                  "asked_at": time.time()}
        pipe = redis.pipeline(transaction=True)
        pipe.hsetnx(keys.BUDGET_ASKS, ask_id, json.dumps(record))
        pipe.sadd(keys.budget_ask_runs(ask_id), run_id)
        pipe.expire(keys.budget_ask_runs(ask_id), keys.BUDGET_TTL)
        if pipe.execute()[0]:
            self._ask(record)
            _announce(self.bus, "exceeded", f"{ask_id}-{record['asked_at']:.3f}", {
                "ask_id": ask_id, "function_id": fn, "run_id": run_id, "kind": kind,
                "scope": scope, "cap": cap, "spent": spent})
        amount = f"${spent:.2f} of ${cap:.2f}" if kind == charges.LLM_USD else \
            f"{spent:g} of {cap:g}"
        raise Defer(wait, f"the {LABELS[kind]} budget of {per} is spent ({amount}): waiting "
                          f"for the owner's answer (ask {ask_id}: allow once, allow for the "
                          "day, stop)" + ("" if scope == "run" else " or the next window"))

    def _ask(self, record: dict[str, Any]) -> None:
        from joelclaw.gateway.notify import deliver

        what = (f"run {record['run_id']} of {record['function']}" if record["scope"] == "run"
                else f"{record['function']}")
        text = (f"🧮 {what} reached its {LABELS[record['kind']]} budget ({record['cap']:g}). "
                "It waits, nothing lost: allow it once more, for the rest of the day, or stop "
                "it.")
        try:
            with charges.exempt():  # the system's question, not the run's message
                deliver(self.bus, text, type="budget.exceeded", buttons=buttons(record["id"]),
                        idem_key=f"budget:{record['id']}")
        except Exception:
            log.warning("asking the owner about budget %s failed", record["id"], exc_info=True)


def buttons(ask_id: str) -> list[list[tuple[str, str]]]:
    """Callback data `bgt:<ask id>:<once|day|stop>` (tasks.system's `budget-button`)."""
    return [[("▶️ Allow once", f"bgt:{ask_id}:once"), ("📅 Allow today", f"bgt:{ask_id}:day")],
            [("⏹ Stop", f"bgt:{ask_id}:stop")]]


def asks(bus: Bus) -> list[dict[str, Any]]:
    """The pending questions, oldest first, each with the runs waiting on it."""
    found = []
    for raw in bus.redis.hvals(keys.BUDGET_ASKS):
        record = json.loads(raw)
        record["runs"] = sorted(m.decode() for m in
                                bus.redis.smembers(keys.budget_ask_runs(record["id"])))
        found.append(record)
    return sorted(found, key=lambda r: r["asked_at"])


def answer(bus: Bus, ask_id: str, verb: str, by: str = "owner") -> dict[str, Any] | None:
    """Resolve a pending question (a claim: the first answer wins); None when not pending."""
    if verb not in VERBS:
        raise ValueError(f"answer one of {', '.join(VERBS)}, not {verb!r}")
    redis = bus.redis
    raw = redis.hget(keys.BUDGET_ASKS, ask_id)
    if raw is None or not redis.hdel(keys.BUDGET_ASKS, ask_id):
        return None
    record = json.loads(raw)
    runs = sorted(m.decode() for m in redis.smembers(keys.budget_ask_runs(ask_id)))
    redis.delete(keys.budget_ask_runs(ask_id))
    kind, fn = record["kind"], record["function"]
    if verb == "stop":
        from joelclaw.bus.control import cancel_run

        for run_id in runs:
            cancel_run(bus, run_id, f"stopped by {by} at its {LABELS[kind]} budget")
    else:
        if verb == "once":
            for run_id in runs:
                redis.hincrby(keys.budget_run(run_id), f"grant:{kind}", 1)
        else:
            from joelclaw.telemetry.spend import next_day_at

            ttl = max(1, int(next_day_at(bus.settings) - time.time()))
            redis.set(keys.budget_day(fn, kind, _today(bus)), by, ex=ttl)
        for run_id in runs:
            bus.wake(run_id, time.time())
    _announce(bus, "answered", f"{ask_id}-{record['asked_at']:.3f}", {
        "ask_id": ask_id, "function_id": fn, "kind": kind, "answer": verb, "by": by,
        "runs": runs})
    return {**record, "runs": runs, "answer": verb, "by": by, "answered_at": time.time()}


def _announce(bus: Bus, what: str, key: str, data: dict[str, Any]) -> None:
    """`joelclaw/budget.exceeded|answered` (payload models in joelclaw.events.payloads)."""
    from joelclaw.events.model import Event

    try:
        bus.send([Event(name=f"joelclaw/budget.{what}", id=f"budget-{what}-{key}", data=data)])
    except Exception:
        log.warning("announcing budget %s %s failed", key, what, exc_info=True)


def _today(bus: Bus) -> str:
    from joelclaw.telemetry.spend import today

    return today(bus.settings)


def install(bus: Bus) -> None:
    """The runtime extension: this process's effects are charged to the running function."""
    charges.set_budget(Budgets(bus))
