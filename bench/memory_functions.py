"""The observe function without its declared throttle (4 runs / 60 s), on its own event, so
bench/memory.py measures what the pipeline itself can do. Its event carries the same payload
model as `memory/session.ended`, so the handler reads the session it expects."""

from __future__ import annotations

from joelclaw.bus.functions import function
from joelclaw.events.payloads.memory import SessionEnded
from joelclaw.events.registry import model_for, register
from tasks.memory import observe_session

if model_for("bench/session.ended") is None:
    register("bench/session.ended", SessionEnded)

bench_memory_observe = function("bench-memory-observe", trigger="bench/session.ended",
                                retries=3)(observe_session.handler)
