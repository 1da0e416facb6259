"""What a step or an external call does to the world, the vocabulary shadow replay decides by.

    pure    computes from its inputs only                 re-executed in a shadow run
    read    reads the world (an API, a model, a file)     re-executed; its calls replay recordings
    write   changes the world (a Todoist task, an event)  never re-executed: its recording answers
    notify  tells a person (a Telegram message)           never re-executed: its recording answers

A step that declares nothing is a `write`: a shadow run then returns its recorded output instead
of running it, so forgetting a declaration can hide a difference, never send a message twice.
"""

from __future__ import annotations

from typing import Literal

from joelclaw.errors import FunctionDefinitionError

Effect = Literal["pure", "read", "write", "notify"]
EFFECTS: tuple[Effect, ...] = ("pure", "read", "write", "notify")
DEFAULT: Effect = "write"  # the safe default: replayed from record, never re-executed
ACTS = frozenset({"write", "notify"})  # what a shadow run never lets leave the machine
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check(effect: str | None) -> Effect | None:
    """The declared effect, or None when undeclared; anything else is a definition error."""
    if effect is None or effect in EFFECTS:
        return effect
    raise FunctionDefinitionError(
        f"effect must be one of {', '.join(EFFECTS)}, not {effect!r}")


def of_method(method: str) -> Effect:
    """An HTTP call's effect when its client says nothing: reads read, the rest write."""
    return "read" if method.upper() in _READ_METHODS else "write"


def acts(effect: str | None) -> bool:
    """True when `effect` (None: undeclared, hence `write`) changes the world or tells someone."""
    return (effect or DEFAULT) in ACTS
