"""The parts of libraries that `up`'s roles import but never run, left out of the shared image.

Why: whatever the supervisor has imported before it forks stays resident in it, shared by every
role but still memory. httpx imports its command-line tool (`httpx._main`: rich and pygments,
~12 MiB) and Celery its `celery amqp repl` (click_repl: prompt_toolkit, ~10 MiB) whenever they are
imported, and no role runs either. `install` puts a stand-in with the names those libraries take
from each in its place, before the library is first imported; the stand-in imports the real module
when first called, so `httpx` on a shell and `celery amqp repl` work as before.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


def install() -> None:
    """Stand-ins for the modules nobody has imported yet (a process that already has one keeps
    it: nothing changes under a library in use)."""
    if "httpx" not in sys.modules:
        _stand_in("httpx._main", main=_later("httpx._main", "main"))
    if "click_repl" not in sys.modules and "celery.bin.amqp" not in sys.modules:
        _stand_in("click_repl", register_repl=register_repl)


def _stand_in(name: str, **names: Any) -> None:
    module = types.ModuleType(name, f"stand-in for {name}: imported when first used "
                                    "(joelclaw.supervisor.deferred)")
    module.__dict__.update(names)
    module.__dict__["__deferred__"] = True
    sys.modules.setdefault(name, module)


def real(name: str) -> types.ModuleType:
    """The real module, imported now in place of its stand-in."""
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__deferred__", False):
        del sys.modules[name]
    return importlib.import_module(name)


def _later(name: str, attribute: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(real(name), attribute)(*args, **kwargs)

    call.__name__ = attribute
    return call


def register_repl(group: Any, name: str = "repl") -> None:
    """click_repl's: `name` as a sub-command of `group` that runs the real REPL."""
    import click

    def repl(old_ctx: Any, *args: Any, **kwargs: Any) -> Any:
        return real("click_repl").repl(old_ctx, *args, **kwargs)

    repl.__doc__ = "Start an interactive shell. All subcommands are available in it."
    group.command(name=name)(click.pass_context(repl))
