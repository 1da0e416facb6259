"""Circuit breakers: one shared state per provider (`joelclaw.config.PROVIDERS`: the LLM,
Telegram, Todoist, Front, Typesense, transcription, embeddings), fed by every call.

Without them each run learns an outage on its own, retrying on its own schedule until its
attempts are spent. Here every call's outcome goes into one Redis hash per provider
(`keys.breaker(service)`); `JOELCLAW_BREAKER_FAILURES` (5) failures in a row open it, or the
provider's own number in `JOELCLAW_BREAKER_PROVIDERS` (its open periods likewise):

- **open**: a step about to call the provider raises `Defer` until `retry_at`: it waits without
  spending an attempt, and `joelclaw explain` shows why ("llm is failing since 14:02: ...").
  The run is noted among those waiting on it. The owner is told once per outage.
- **half-open** (once `retry_at` passed): one caller gets to probe (a lock); the others wait a
  few seconds more. A probe that fails opens the breaker again, for twice as long (up to
  `JOELCLAW_BREAKER_MAX_OPEN_SECONDS`); one that succeeds closes it and the waiting runs go on
  at their next wake-up.
- A 429's `Retry-After` sets the least time the breaker stays open.

Calls outside a run (the owner's own agent turn) are never refused: they go through, and their
outcomes still count (a success closes the breaker).
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.execution import current_step_note
from joelclaw.config import PROVIDERS
from joelclaw.durations import humane
from joelclaw.errors import Defer
from joelclaw.integrations import breaker, charges

if TYPE_CHECKING:
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.breakers")
PROBE_SECONDS = 30.0  # a probe that neither succeeds nor fails within this frees the lock
PROBE_WAIT_SECONDS = 5.0  # others wait this long while a probe is under way

# KEYS: the hash, the probe lock. ARGV: now, threshold, open seconds, retry_after or "",
# error, max open seconds. Returns 1 when this failure opened the breaker.
_FAILURE = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[1])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('HSET', KEYS[1], 'last_error', ARGV[5], 'last_failure_at', ARGV[1])
local asked = tonumber(ARGV[4])
if state == 'open' then
  local opens = redis.call('HINCRBY', KEYS[1], 'opens', 1)
  local wait = math.min(tonumber(ARGV[3]) * 2 ^ (opens - 1), tonumber(ARGV[6]))
  if asked and asked > wait then wait = asked end
  redis.call('HSET', KEYS[1], 'retry_at', now + wait)
  redis.call('DEL', KEYS[2])
  return 0
end
if failures >= tonumber(ARGV[2]) then
  local wait = tonumber(ARGV[3])
  if asked and asked > wait then wait = asked end
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', ARGV[1], 'retry_at', now + wait,
             'opens', 1)
  return 1
end
return 0
"""

# KEYS: the hash, the probe lock, the waiting set. ARGV: now, latency ms. Returns 1 when this
# success closed an open breaker.
_SUCCESS = """
redis.call('HSET', KEYS[1], 'last_latency_ms', ARGV[2], 'last_success_at', ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'open' then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'opens', 0, 'closed_at', ARGV[1])
  redis.call('DEL', KEYS[2], KEYS[3])
  return 1
end
if tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') > 0 then
  redis.call('HSET', KEYS[1], 'failures', 0)
end
return 0
"""


class Breakers:
    """The process's guard (joelclaw.integrations.breaker), on the bus's Redis."""

    def __init__(self, bus: Bus):
        self.bus = bus
        self.tunings = {p: bus.settings.breakers.tuning(p) for p in PROVIDERS}
        self._failure = bus.redis.register_script(_FAILURE)
        self._success = bus.redis.register_script(_SUCCESS)

    def before(self, service: str) -> None:
        note = current_step_note()
        if note is None or service not in self.tunings:
            return  # outside a run: never refused; a service with no breaker: never either
        redis = self.bus.redis
        state = {k.decode(): v.decode() for k, v in redis.hgetall(keys.breaker(service)).items()}
        if state.get("state") != "open":
            return
        now = time.time()
        retry_at = float(state.get("retry_at") or now)
        since = humane.clock(float(state.get("opened_at") or now), self.bus.settings.timezone)
        reason = (f"{service} is failing since {since}"
                  f" ({state.get('last_error', 'unknown error')[:200]}): the breaker is open, "
                  "this step waits for it to recover without spending an attempt")
        if now < retry_at:
            redis.sadd(keys.breaker_waiting(service), note.run_id)
            raise Defer(retry_at - now + 0.2, reason)
        token = secrets.token_hex(8)
        if redis.set(keys.breaker_probe(service), token, nx=True, px=int(PROBE_SECONDS * 1000)):
            log.info("%s breaker half-open: run %s probes", service, note.run_id)
            return
        redis.sadd(keys.breaker_waiting(service), note.run_id)
        raise Defer(PROBE_WAIT_SECONDS, reason + " (a probe is under way)")

    def after(self, service: str, failure: str | None, retry_after: float | None,
              latency_s: float) -> None:
        tuning = self.tunings.get(service)
        if tuning is None:
            return
        now = time.time()
        hash_key, probe = keys.breaker(service), keys.breaker_probe(service)
        if failure is None:
            closed = self._success(keys=[hash_key, probe, keys.breaker_waiting(service)],
                                   args=[f"{now:.3f}", round(latency_s * 1000, 1)])
            if closed:
                log.warning("%s breaker closed: the provider answers again", service)
                self._announce("closed", service, None)
            return
        opened = self._failure(
            keys=[hash_key, probe],
            args=[f"{now:.3f}", tuning.failures, tuning.open_seconds,
                  "" if retry_after is None else retry_after, failure[:500],
                  tuning.max_open_seconds])
        if opened:
            log.warning("%s breaker open after %d failures: %s", service, tuning.failures,
                        failure)
            self._tell_owner(service, failure, now)
            self._announce("opened", service, failure[:500])

    def _announce(self, change: str, service: str, error: str | None) -> None:
        """`joelclaw/breaker.opened|closed`, for functions that react to an outage."""
        from joelclaw.events.model import Event

        since = float(self.bus.redis.hget(keys.breaker(service), "opened_at") or time.time())
        try:
            self.bus.send([Event(name=f"joelclaw/breaker.{change}",
                                 id=f"breaker-{service}-{change}-{since:.3f}",
                                 data={"service": service, "since": since, "error": error})])
        except Exception:
            log.warning("announcing the %s breaker %s failed", service, change, exc_info=True)

    def _tell_owner(self, service: str, failure: str, now: float) -> None:
        """Once per outage (the notification's idempotency key is the outage's start)."""
        from joelclaw.gateway.notify import deliver

        text = (f"🔌 {service} is failing ({failure[:200]}). Runs that need it wait and go on "
                "by themselves when it recovers; joelclaw status shows the breaker.")
        try:
            with charges.exempt():  # the system's notice, not the run's message
                deliver(self.bus, text, type=f"breaker.{service}",
                        idem_key=f"breaker:{service}:{int(now)}")
        except Exception:
            log.warning("telling the owner about the %s outage failed", service, exc_info=True)


def states(bus: Bus) -> dict[str, dict[str, Any]]:
    """Every provider's breaker as `/health` and `joelclaw status` show it: state, since when,
    the last error, and the runs waiting on it."""
    found: dict[str, dict[str, Any]] = {}
    for service in PROVIDERS:
        raw = bus.redis.hgetall(keys.breaker(service))
        if not raw:
            continue
        state = {k.decode(): v.decode() for k, v in raw.items()}
        waiting = sorted(m.decode() for m in bus.redis.smembers(keys.breaker_waiting(service)))
        is_open = state.get("state") == "open"
        found[service] = {
            "state": "open" if is_open else "closed",
            "since": float(state["opened_at"]) if is_open and "opened_at" in state else None,
            "retry_at": float(state["retry_at"]) if is_open and "retry_at" in state else None,
            "failures": int(state.get("failures") or 0),
            "last_error": state.get("last_error"),
            "last_latency_ms": float(state["last_latency_ms"])
            if "last_latency_ms" in state else None,
            "waiting": waiting if is_open else []}
    return found


def install(bus: Bus) -> None:
    """The runtime extension: this process's provider calls feed and obey the breakers."""
    breaker.set_guard(Breakers(bus))
