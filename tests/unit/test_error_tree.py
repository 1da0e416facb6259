"""Every exception joelclaw defines hangs from one base, and no two share a name.

A caller can catch `JoelclawError` for anything joelclaw raises on purpose, read its `code`, and
never meet two different classes called the same (an import of the wrong `NotFound` catches
nothing). The only exceptions outside the tree are the run's control-flow interrupts, which
must stay BaseExceptions so a function's `except Exception` cannot swallow them.
"""

from __future__ import annotations

import importlib
import inspect
from collections import Counter

from joelclaw.errors import JoelclawError, StepInterrupt
from tests.test_architecture import modules

# `joelclaw.worker` builds a runtime at import (Celery's CLI needs the attribute); a `__main__`
# runs its command. Neither defines a class (checked below from the source).
NOT_IMPORTED = ("joelclaw.worker",)


def _project_exceptions() -> dict[type[BaseException], str]:
    found: dict[type[BaseException], str] = {}
    for name, path in sorted(modules().items()):
        if name in NOT_IMPORTED or name.endswith("__main__"):
            assert "\nclass " not in path.read_text(), f"{name} defines a class: import it here"
            continue
        module = importlib.import_module(name)
        for obj in vars(module).values():
            if (inspect.isclass(obj) and issubclass(obj, BaseException)
                    and obj.__module__ == module.__name__):
                found[obj] = name
    return found


def test_every_project_exception_is_a_joelclaw_error_or_a_step_interrupt() -> None:
    found = _project_exceptions()
    assert len(found) > 50  # the walk really imported the project
    outside = sorted(f"{module}.{cls.__name__}" for cls, module in found.items()
                     if not issubclass(cls, JoelclawError | StepInterrupt))
    assert outside == []
    interrupts = sorted(cls.__name__ for cls in found if issubclass(cls, StepInterrupt))
    # ShadowStop: a shadow run cannot go past a step its recording never finished; like a
    # suspension, a function's `except Exception` must not carry on without that result.
    assert interrupts == ["Cancelled", "MemberDone", "ShadowStop", "StepInterrupt", "Suspend"]


def test_no_two_project_exceptions_share_a_name() -> None:
    names = Counter(cls.__name__ for cls in _project_exceptions())
    assert [name for name, count in names.items() if count > 1] == []

