"""The observe function without its declared throttle (4 runs / 60 s), on its own event, so
bench/memory.py measures what the pipeline itself can do. Its event carries the same payload
model as `memory/session.ended`, so the handler reads the session it expects."""

from __future__ import annotations

from joelclaw import function, register_payload
from joelclaw.events.payloads.memory import SessionEnded
from tasks.memory import observe_session

register_payload("bench/session.ended", SessionEnded)  # the same model again is a no-op

bench_memory_observe = function("bench-memory-observe", trigger="bench/session.ended",
                                retries=3)(observe_session.handler)
