"""Exponential back-off with jitter: the one schedule for step retries, HTTP retries and the
gateway's poller."""

from __future__ import annotations

import random
from collections.abc import Callable


def exponential(attempt: int, *, base: float, cap: float, jitter: float = 0.0,
                rng: Callable[[], float] = random.random) -> float:
    """`base`·2^(attempt-1) stretched by up to `jitter` (a fraction) at random, capped at `cap`.

    Jitter spreads retries of many callers that failed together, so they do not all come back
    at the same instant.
    """
    raw = base * 2 ** (max(1, attempt) - 1)
    return min(cap, raw * (1 + jitter * rng()))
