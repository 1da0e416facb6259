"""Where provider clients charge an effect to the running function's budget, before it happens.

Three kinds, counted at the client call (so they hold whatever a step calls them from):

- `notify`: a message to a person (a Telegram send; `ctx.gateway.notify` charges one per
  message, however many chunks it is sent in),
- `write`: a change in an external system (a Todoist or Front request that is not a read),
- `llm_usd`: LLM spend: checked before a chat call (`joelclaw.integrations.llm`), and its
  answer's usage added after it, priced by the budget.

The process's budget is installed by the runtime (`joelclaw.coordination.budgets.install`);
without one nothing is counted. It may refuse an effect by raising `Defer` (the step waits
without spending an attempt); any other failure of the bookkeeping is logged, never raised.
The system's own messages to the owner (a breaker's notice, a budget's question) are `exempt`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol

from joelclaw.errors import Defer
from joelclaw.integrations.usage import Usage

log = logging.getLogger("joelclaw.charges")
NOTIFY, WRITE, LLM_USD = "notify", "write", "llm_usd"
KINDS = (NOTIFY, WRITE, LLM_USD)


class Budget(Protocol):
    def charge(self, kind: str, amount: float) -> None: ...

    def spent(self, usage: Usage) -> None: ...


_budget: list[Budget] = []
# Kinds not charged in this context: all of them (exempt), or one already charged by an outer
# call (a notification charged once, sent as several Telegram messages).
_covered: ContextVar[frozenset[str]] = ContextVar("joelclaw_effects_covered",
                                                  default=frozenset())


def set_budget(budget: Budget | None) -> None:
    _budget[:] = [budget] if budget is not None else []


def charge(kind: str, amount: float = 1.0) -> None:
    """Count one effect of `kind` (amount 0: only ask whether the budget still has room)."""
    if not _budget or kind in _covered.get():
        return
    try:
        _budget[0].charge(kind, amount)
    except Defer:
        raise
    except Exception:
        log.warning("the %s budget could not be charged", kind, exc_info=True)


def spent(usage: Usage) -> None:
    """Add what an LLM call cost (it happened: never refused)."""
    if not _budget or LLM_USD in _covered.get():
        return
    try:
        _budget[0].spent(usage)
    except Exception:
        log.warning("LLM spend could not be added to the budget", exc_info=True)


@contextlib.contextmanager
def covered(*kinds: str) -> Iterator[None]:
    """Within: these kinds are not charged again (the caller charged them, or they are the
    system's own)."""
    token = _covered.set(_covered.get() | frozenset(kinds))
    try:
        yield
    finally:
        _covered.reset(token)


@contextlib.contextmanager
def charged(kind: str) -> Iterator[None]:
    """Charge one `kind` now; what runs within charges no more of it."""
    charge(kind)
    with covered(kind):
        yield


def exempt() -> contextlib.AbstractContextManager[None]:
    """The system's own effects (a notice to the owner about the system): never charged."""
    return covered(*KINDS)
