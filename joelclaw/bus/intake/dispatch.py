"""Sending events: deduplicate by id (24 h), log, and start every function the event triggers.

One Lua script stores the event and creates its runs with an outbox wake-up each, atomically;
only when it answers that the event is new are the runs published, so a duplicate delivery costs
nothing after its dedup answer (no message, no lease, no wake-up). If the sender dies between
the script and the publish, the sweeper publishes the runs from their outbox entries.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joelclaw import keys
from joelclaw.bus.delivery import capture
from joelclaw.bus.delivery.publish import DEFAULT_PRIORITY, publish_now, publish_run
from joelclaw.bus.flow import absence, cancel, gate, timers, waits
from joelclaw.bus.functions.options import priority_level
from joelclaw.bus.ports import SendResult
from joelclaw.bus.records import runs as run_codec
from joelclaw.bus.records import wakeups
from joelclaw.bus.records.memo import Memo
from joelclaw.bus.records.runs import Run, new_run_id
from joelclaw.errors import EventError
from joelclaw.events import index_backlog
from joelclaw.events.index import terms
from joelclaw.events.limits import MAX_EVENT_BYTES, check_size
from joelclaw.events.model import Event
from joelclaw.redaction import configured_secrets

if TYPE_CHECKING:
    from joelclaw.bus.functions.registry import Function
    from joelclaw.bus.ports import Bus
    from joelclaw.config import Settings

log = logging.getLogger("joelclaw.dispatch")

# Runs the sender starts for a function directly (`only=`), bypassing debounce and batch.
DIRECT_TRIGGERS = frozenset({"debounce", "batch", "replay", "rerun", "invoke"})
# A replay or rerun is an operator's explicit request: rate limit, idempotency and singleton
# (which would skip it) do not apply; throttle and concurrency still do.
OPERATOR_TRIGGERS = frozenset({"replay", "rerun"})


@dataclass
class Seed:
    """What a flow-control or rerun run carries beyond an ordinary one."""

    batch: list[dict[str, Any]] | None = None
    memo: dict[str, Memo] | None = None  # a rerun's reused step results
    steps: dict[str, Any] | None = None  # and their trace records
    rerun_from: str | None = None


def send_events(
    rt: Bus,
    events: list[Event],
    *,
    only: Function | None = None,
    trigger: str = "event",
    parent: dict[str, Any] | None = None,
    replay_of: str | None = None,
    skip_dedup: bool = False,
    batch: list[dict[str, Any]] | None = None,
    seed: dict[str, Any] | None = None,
) -> list[SendResult]:
    """Send each event; `batch` and `seed` (flow control, reruns) apply to the one run of `only`.

    Events are validated when built (`Event`), so nothing is validated again here.
    """
    extra = None
    if batch is not None or seed is not None:
        seed = seed or {}
        extra = Seed(batch=batch, memo=seed.get("memo"), steps=seed.get("steps"),
                     rerun_from=seed.get("rerun_from"))
    return [_send_one(rt, event, only, trigger, parent, replay_of, skip_dedup, extra)
            for event in events]


def _send_one(
    rt: Bus, event: Event, only: Function | None, trigger: str, parent: dict[str, Any] | None,
    replay_of: str | None, skip_dedup: bool, extra: Seed | None,
) -> SendResult:
    event_dict = event.as_dict()
    functions = [only] if only else rt.registry.triggered_by(event, event_dict)
    held: list[Function] = []
    if trigger not in DIRECT_TRIGGERS:
        held = [fn for fn in functions if _held_by_timer(fn)]
        functions = [fn for fn in functions if fn not in held]
    runs = [Run(id=new_run_id(), function=fn.id, event=event_dict, trigger=trigger,
                parent=parent, replay_of=replay_of, priority=_priority(fn, event_dict),
                admitted=trigger in OPERATOR_TRIGGERS)
            for fn in functions]
    if extra is not None:
        _seed(rt, runs[0], extra)
    now = time.time()
    for run in runs:  # created when indexed: the index and the run's own stats agree
        run.created_at = now
    messages, written = _messages(rt, functions, runs, now)
    stored = _store(rt, event, event_dict, runs, now, skip_dedup, messages)
    if not stored[0]:
        return SendResult(event.id, event.name, "deduplicated")
    if len(stored) > 2 and stored[2]:  # the outbox entries publish them again
        log.warning("event %s: the broker refused its runs' messages (%s); the sweeper "
                    "publishes them", event.id, _text(stored[2][0]))
    if only is None:  # a new event on its way in (not a timer's or an operator's resend)
        try:
            absence.observe(rt, event_dict, now)
        except Exception:  # the event and its runs stand; only its absence watch is late
            log.exception("could not arm the absence watches of %s", event.id)
    for fn, run in zip(functions, runs, strict=True):
        try:
            if fn.flow is not None and fn.flow.throttle is not None:
                gate.reserve(rt, fn, run, now)  # FIFO by event: reserve before publishing
        finally:  # unreserved, the gate reserves when the run first executes
            if run.id not in written:
                _publish(rt, fn, run, now)
    started = [r for fn in held for r in timers.defer(rt, fn, event_dict)]
    listening = [(fn, run.id) for fn, run in zip(functions, runs, strict=True)
                 if fn.flow is not None and fn.flow.cancel_on]
    if listening:
        cancel.register(rt, listening, event_dict, now)
    resumed: list[str] = []
    if len(stored) > 1 and stored[1]:
        resumed = resolve_waiters(rt, event_dict,
                                  dict(zip(stored[1][::2], stored[1][1::2], strict=True)))
    return SendResult(event.id, event.name, "dispatched", [r.id for r in runs] + started,
                      resumed)


def _messages(rt: Bus, functions: list[Function], runs: list[Run], now: float
              ) -> tuple[list[list[str]], set[str]]:
    """The broker messages of the runs the dispatch script can publish itself (the broker is
    the same Redis, and no throttle must reserve the run's start first), as kombu would
    write them; and those runs' ids. The others are published after the script."""
    messages: list[list[str]] = []
    written: set[str] = set()
    for fn, run in zip(functions, runs, strict=True):
        if fn.flow is not None and fn.flow.throttle is not None:
            continue
        try:
            commands = capture.run_message(rt, fn, run.id, ready_at=now, priority=run.priority)
        except Exception:  # published the ordinary way after the script
            log.warning("could not prepare the message of run %s", run.id, exc_info=True)
            continue
        if commands is not None:
            messages += commands
            written.add(run.id)
    return messages, written


def _store(rt: Bus, event: Event, event_dict: dict[str, Any], runs: list[Run], now: float,
           skip_dedup: bool, messages: list[list[str]]) -> list[Any]:
    """The dispatch script: [1, waiters, errors] for a new event, [0] for a duplicate.

    Whatever sent the event (a webhook, the API, the CLI, a function's step), it is stored only
    if it is standard JSON (no NaN or Infinity) within the one size limit.
    """
    record = {"event": event_dict, "received_at": now, "runs": [r.id for r in runs]}
    try:
        record_json = json.dumps(record, allow_nan=False)
    except ValueError:
        raise EventError(f"event {event.name}: its data is not standard JSON (NaN or "
                         "Infinity); send null or a string instead") from None
    if len(record_json) > MAX_EVENT_BYTES:
        check_size(event_dict)
    at_ms = int(now * 1000)
    event_entry = "" if skip_dedup else index_backlog.entry(
        at_ms, event.id, [keys.EVENT_LOG, keys.events_by_name(event.name)],
        terms(event_dict, _secrets(rt.settings)))
    run_entries = [index_backlog.entry(at_ms, r.id,
                                       [keys.RUN_INDEX, keys.runs_of_function(r.function)])
                   for r in runs]
    payload = [{"id": r.id, "fields": run_codec.encode(r), "wake": True} for r in runs]
    return rt.scripts.dispatch(
        keys=[keys.event_seen(event.id), keys.event(event.id), wakeups.SETS.outbox,
              keys.INDEX_BACKLOG, *(keys.run(r.id) for r in runs)],
        args=[event.id, record_json, keys.EVENT_DEDUP_TTL, keys.EVENT_TTL,
              now + rt.settings.runs.outbox_grace_seconds, json.dumps(payload),
              "1" if skip_dedup else "0", keys.waits(event.name), event_entry,
              json.dumps(messages) if messages else "", *run_entries])


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


_SECRETS: dict[int, tuple[Settings, tuple[str, ...]]] = {}


def _secrets(settings: Settings) -> tuple[str, ...]:
    """The configured secrets (never indexed for search), worked out once per settings."""
    cached = _SECRETS.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = _SECRETS[id(settings)] = (settings, configured_secrets(settings))
    return cached[1]


def _publish(rt: Bus, fn: Function, run: Run, now: float) -> None:
    try:
        publish_run(rt, fn, run.id, ready_at=now, priority=run.priority)
    except Exception:  # broker down: the stored run is published from its outbox entry
        log.warning("could not publish run %s now; the sweeper will", run.id, exc_info=True)


def _held_by_timer(fn: Function) -> bool:
    return fn.flow is not None and (fn.flow.debounce is not None or fn.flow.batch is not None)


def _priority(fn: Function, event: dict[str, Any]) -> int | None:
    """The broker level of a function with a priority expression (None: the default)."""
    if fn.flow is None or fn.flow.priority is None:
        return None
    try:
        value = fn.flow.priority.evaluate({"event": event})
    except ValueError:
        log.warning("priority of %s could not be evaluated; using the default", fn.id)
        return None
    return priority_level(value, DEFAULT_PRIORITY)


def _seed(rt: Bus, run: Run, extra: Seed) -> None:
    """Batch events and a rerun's reused steps, stored before the run can execute."""
    run.batch = extra.batch
    run.rerun_from = extra.rerun_from
    if extra.memo or extra.steps:
        rt.runs.seed(run.id, extra.memo or {}, extra.steps or {})


def resolve_waiters(rt: Bus, event: dict[str, Any], waiting: dict[bytes, bytes]) -> list[str]:
    """Hand a new event to the runs waiting for it (and cancel_on listeners); publish the
    woken runs at once. Returns the runs whose wait it resumed."""
    resumed = []
    for field, raw in waiting.items():
        spec = json.loads(raw)
        if spec["expires"] < time.time() or not waits.matches(spec, event):
            continue
        if spec.get("kind") == "cancel":
            cancel.fire(rt, field.decode(), spec, event)
            continue
        run_id, step_key = field.decode().split("|", 1)
        if waits.resolve(rt, run_id, step_key, event["name"], event, wake=True):
            resumed.append(run_id)
            publish_now(rt, run_id)
    return resumed
