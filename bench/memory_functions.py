"""The observe function without its declared throttle (4 runs / 60 s), on its own event, so
bench/memory.py measures what the pipeline itself can do."""

from __future__ import annotations

from joelclaw.bus.functions import function
from tasks.memory import observe_session

bench_memory_observe = function("bench-memory-observe", trigger="bench/session.ended",
                                retries=3)(observe_session.handler)
