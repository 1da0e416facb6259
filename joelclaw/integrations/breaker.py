"""Where provider clients report each call's outcome, and ask before calling.

Every `ApiClient` request (and the Typesense client's `_call`) is wrapped in `guarded(service,
call)`, so each provider client feeds its breaker without code of its own. The process's guard is
installed by the runtime (`joelclaw.coordination.breakers.install`); without one a call just runs.
The guard may refuse a call (raising `Defer`, so a step waits without spending an attempt) while
the provider's circuit breaker is open; a failing guard is logged, never raised: health bookkeeping
never fails a call.

Only failures that say the provider is unwell count: a transport error, a 5xx, a 429 once the
client's own retries are spent. A 4xx is the caller's problem and counts as a healthy answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from joelclaw.errors import Defer
from joelclaw.integrations.errors import HTTPStatusError, RateLimited, TransportError

log = logging.getLogger("joelclaw.breaker")
T = TypeVar("T")


class Guard(Protocol):
    def before(self, service: str) -> None: ...

    def after(self, service: str, failure: str | None, retry_after: float | None,
              latency_s: float) -> None: ...


_guard: list[Guard] = []


def set_guard(guard: Guard | None) -> None:
    _guard[:] = [guard] if guard is not None else []


def failure_of(exc: BaseException) -> tuple[str | None, float | None]:
    """(why the provider looks unwell, how long it asked us to wait), or (None, None)."""
    if isinstance(exc, RateLimited):
        return f"429 rate limited: {exc}", exc.retry_after
    if isinstance(exc, TransportError):
        return str(exc), None
    if isinstance(exc, HTTPStatusError) and exc.status >= 500:
        return str(exc), None
    return None, None


def guarded(service: str, call: Callable[[], T]) -> T:
    guard = _guard[0] if _guard else None
    if guard is not None:
        try:
            guard.before(service)
        except Defer:
            raise
        except Exception:
            log.warning("the %s breaker could not be read", service, exc_info=True)
    started = time.monotonic()
    try:
        result = call()
    except Defer:  # the call waits before it is sent (its budget): no outcome of the service
        raise
    except Exception as exc:
        failure, retry_after = failure_of(exc)
        _after(guard, service, failure or None, retry_after, started)
        raise
    _after(guard, service, None, None, started)
    return result


def _after(guard: Guard | None, service: str, failure: str | None, retry_after: float | None,
           started: float) -> None:
    if guard is None:
        return
    try:
        guard.after(service, failure, retry_after, time.monotonic() - started)
    except Exception:
        log.warning("the %s breaker could not be updated", service, exc_info=True)
