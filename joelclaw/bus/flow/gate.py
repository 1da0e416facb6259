"""The gate every execution of a flow-controlled function passes, right after taking its lease.

Order: admission (semantic dedupe, singleton, idempotency, rate limit; decided once per run) →
throttle (a start time reserved once per run, GCRA) → concurrency (a slot per execution, given
back when the execution ends or suspends). A run that may not go on now is parked: status
`queued`, a `held` record saying which limit and key hold it, and a durable wake-up; it holds
no worker meanwhile.
Plain functions never come here (`fn.flow is None`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.control.actions import cancel_run
from joelclaw.bus.delivery.leases import Lease, execute_releasing
from joelclaw.bus.flow import dedupe
from joelclaw.bus.functions.options import key_value
from joelclaw.bus.records import metrics, wakeups
from joelclaw.bus.records.runs import Run

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus

log = logging.getLogger("joelclaw.flow")
THROTTLE_SLACK = 0.005  # a run woken this close to its reserved start time just starts
RUN_PREFIX = keys.run("")


@dataclass
class Slots:
    """Concurrency slots one execution holds: (slots key, queue key, limit) per constraint."""

    run_id: str
    constraints: list[tuple[str, str, int]]
    grace: float  # the woken runs' safety wake-up (settings.outbox_grace_seconds)

    def keys(self) -> list[str]:
        return [k for slots, queue, _ in self.constraints for k in (slots, queue)]

    def limits(self) -> list[int]:
        return [limit for _, _, limit in self.constraints]

    def release_args(self) -> tuple[list[str], list[Any]]:
        now = time.time()
        return ([*self.keys(), wakeups.SETS.outbox],
                [self.run_id, now, now + self.grace, *self.limits()])


@dataclass
class Entry:
    """What the gate decided: `outcome` set means the execution stops here."""

    outcome: str | None = None
    slots: Slots | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def constraints(fn: Function, run: Run) -> list[tuple[str, str, int]]:
    """The concurrency keys of this run; the key is ignored for batches, like Inngest."""
    out = []
    for conc in fn.flow.concurrency if fn.flow else ():
        value = "" if run.batch else key_value(conc.key, run.event)
        scope_key = f"shared:{value}" if conc.scope == "shared" else f"fn:{fn.id}:{value}"
        out.append((keys.flow_slots(scope_key), keys.flow_queue(scope_key), conc.limit))
    return out


def enter(rt: Bus, fn: Function, run: Run, lease: Lease) -> Entry:
    """Pass the gate or park the run; the lease is released when the run does not go on."""
    flow = fn.flow
    assert flow is not None
    now = time.time()
    if flow.admits and not run.admitted:
        link = dedupe.check(rt, fn, run) if flow.dedupe is not None else None
        skipped = dedupe.reason(link) if link is not None else _admit(rt, fn, run)
        if skipped and link is None and flow.dedupe is not None:
            dedupe.release(rt, fn, run)  # skipped by another limit: it did not do the content
        if skipped:
            _skip(rt, run, lease, skipped, link)
            return Entry("skipped")
    if flow.throttle is not None:
        at = run.throttle_at if run.throttle_at is not None else reserve(rt, fn, run, now)
        if at > now + THROTTLE_SLACK:
            hold = {"kind": "throttle", "key": key_value(flow.throttle.key, run.event),
                    "limit": flow.throttle.limit, "period": flow.throttle.period,
                    "burst": flow.throttle.burst, "until": at}
            _park(rt, run, lease, hold, at)
            return Entry("throttled")
    entry = Entry()
    if flow.concurrency:
        slots = Slots(run.id, constraints(fn, run), rt.settings.runs.outbox_grace_seconds)
        blocked = _acquire(rt, fn, run, slots, lease)
        if blocked:
            return Entry(blocked)
        entry.slots = slots
        lease.slot_keys = [slots_key for slots_key, _, _ in slots.constraints]
    if run.held is not None:
        entry.fields = released(run, now)
    return entry


def released(run: Run, now: float | None = None) -> dict[str, Any]:
    """The run fields that end its hold: gone from `held`, kept in `holds` for the trace."""
    assert run.held is not None
    at = time.time() if now is None else now
    return {"held": None, "holds": [*run.holds, {**run.held, "released_at": at}]}


def _admit(rt: Bus, fn: Function, run: Run) -> str | None:
    """Returns the reason to skip, or None (and cancels the old run of a cancel singleton)."""
    flow = fn.flow
    assert flow is not None
    single = flow.singleton
    idem = flow.idempotency
    rate = flow.rate_limit
    single_key = key_value(single.key, run.event) if single else ""
    idem_key = key_value(idem, run.event) if idem else ""
    rate_key = key_value(rate.key, run.event) if rate else ""
    reply = rt.scripts.flow_admit(
        keys=[keys.run(run.id), keys.flow_singleton(fn.id, single_key),
              keys.flow_idempotency(fn.id, idem_key), keys.flow_rate(fn.id, rate_key)],
        args=[run.id, single.mode if single else "",
              keys.IDEMPOTENCY_TTL if idem else "", rate.limit if rate else "",
              int(rate.period * 1000) if rate else 0, RUN_PREFIX, keys.SINGLETON_TTL])
    ok, reason, detail = reply[0], _text(reply[1]), _text(reply[2])
    if ok:
        if detail:
            _cancel_previous(rt, detail, run.id)
        return None
    if reason == "singleton":
        return f"singleton: run {detail} is still active for key {single_key!r}"
    if reason == "idempotency":
        return f"idempotency: run {detail} already ran for key {idem_key!r} within 24 h"
    assert rate is not None
    return (f"rate limit: {rate.limit} per {rate.period:g}s reached for key {rate_key!r} "
            f"(resets in {max(0, int(detail)) / 1000:.1f}s)")


def _cancel_previous(rt: Bus, old_run: str, new_run: str) -> None:
    try:
        cancel_run(rt, old_run, f"singleton: replaced by run {new_run}")
    except Exception:  # the new run goes on whatever happened to the old one
        log.exception("could not cancel %s for singleton run %s", old_run, new_run)


def reserve(rt: Bus, fn: Function, run: Run, now: float) -> float:
    """Reserve this run's start time (GCRA); the same time again if it already has one."""
    throttle = fn.flow.throttle  # type: ignore[union-attr]  # only throttled functions get here
    assert throttle is not None
    interval = throttle.period / throttle.limit * 1000
    tolerance = interval * (throttle.limit + throttle.burst - 1)
    key = keys.flow_throttle(fn.id, key_value(throttle.key, run.event))
    reply = rt.scripts.flow_throttle(keys=[key, keys.run(run.id)],
                                     args=[int(now * 1000), interval, tolerance])
    return float(reply)


def _acquire(rt: Bus, fn: Function, run: Run, slots: Slots, lease: Lease) -> str | None:
    now = time.time()
    expiry = now + rt.settings.runs.lease_seconds
    reply = rt.scripts.flow_acquire(keys=slots.keys(),
                                    args=[run.id, now, expiry, RUN_PREFIX, *slots.limits()])
    if reply[0] == 1:
        return None
    index, position, first_expiry = int(reply[1]) - 1, int(reply[2]), float(reply[3])
    conc = fn.flow.concurrency[index]  # type: ignore[union-attr]  # the script counted its limits
    hold = {"kind": "concurrency", "key": key_value(conc.key, run.event), "scope": conc.scope,
            "limit": conc.limit, "ahead": position, "slot_frees_by": first_expiry}
    # Woken when a slot frees; the recheck covers slots of workers that died (lease expiry).
    recheck = max(first_expiry, now + 0.2) + 0.1
    _park(rt, run, lease, hold, recheck)
    return "held"


def _park(rt: Bus, run: Run, lease: Lease, hold: dict[str, Any], wake_at: float) -> None:
    """Queued, with the hold recorded and a durable wake-up; the lease goes back."""
    previous = run.held or {}
    same = previous.get("kind") == hold["kind"]
    fields: dict[str, Any] = {"status": "queued", "held": {
        **hold, "since": previous.get("since") if same else time.time(), "recheck_at": wake_at}}
    if previous and not same:  # e.g. throttled, then held by concurrency: keep both
        fields["holds"] = [*run.holds, {**previous, "released_at": time.time()}]
    pipe = rt.redis.pipeline(transaction=True)
    rt.runs.update(run.id, pipe=pipe, **fields)
    wakeups.schedule(pipe, {run.id: wake_at})
    execute_releasing(pipe, lease)


def _skip(rt: Bus, run: Run, lease: Lease, reason: str,
          link: dict[str, Any] | None = None) -> None:
    pipe, now = rt.redis.pipeline(transaction=True), time.time()
    error: dict[str, Any] = {"name": "Skipped", "message": reason}
    if link is not None:
        error["dedupe"] = link  # the run this one duplicates (explain, the run page)
    rt.runs.update(run.id, pipe=pipe, status="skipped", ended_at=now, error=error)
    metrics.run_ended(pipe, run.function, "skipped", created_at=run.created_at,
                      started_at=None, execution_ms=None)
    execute_releasing(pipe, lease)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def publish_woken(rt: Bus, run_ids: list[Any]) -> None:
    """Runs a released slot woke: publish now (their wake-ups remain as a safety net)."""
    for raw in run_ids or ():
        try:
            rt.publish(_text(raw))
        except Exception:
            log.warning("could not publish woken run %s; its wake-up will", raw, exc_info=True)
