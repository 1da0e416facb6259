"""The parts of libraries that `up`'s roles import but never run, left out of the shared image.

Why: whatever the supervisor has imported before it forks stays resident in it, shared by every
role but still memory. httpx imports its command-line tool (`httpx._main`: rich and pygments,
~12 MiB) and Celery its `celery amqp repl` (click_repl: prompt_toolkit, ~10 MiB) whenever they are
imported, and no role runs either. `install` puts a stand-in with the names those libraries take
from each in its place, before the library is first imported; the stand-in imports the real module
when first called, so `httpx` on a shell and `celery amqp repl` work as before. Celery's command
line also imports pygments (~4 MiB) to colour the JSON `celery inspect` prints: `highlighting_later`
gives it stand-ins while `up` preloads it, and the real pygments colours that output when asked.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from collections.abc import Callable, Iterator
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


# What celery.bin.base takes from pygments: `highlight`, `Terminal256Formatter`, `PythonLexer`.
_PYGMENTS = {"pygments": "highlight", "pygments.formatters": "Terminal256Formatter",
             "pygments.lexers": "PythonLexer"}


@contextlib.contextmanager
def highlighting_later() -> Iterator[None]:
    """While Celery's command line (celery.bin.base) is first imported, pygments is a stand-in
    whose `highlight` colours with the real pygments when called; the stand-ins are gone from
    `sys.modules` afterwards, so anything importing pygments later gets the real one. Nothing
    changes if either is imported already."""
    if "celery.bin.base" in sys.modules or any(name in sys.modules for name in _PYGMENTS):
        yield
        return
    _stand_in("pygments", highlight=highlight)
    _stand_in("pygments.formatters", Terminal256Formatter=_made_later("pygments.formatters",
                                                                      "Terminal256Formatter"))
    _stand_in("pygments.lexers", PythonLexer=_made_later("pygments.lexers", "PythonLexer"))
    try:
        yield
    finally:
        for name in _PYGMENTS:
            if getattr(sys.modules.get(name), "__deferred__", False):
                del sys.modules[name]


class _Later:
    """A pygments lexer or formatter not made yet: `highlight` makes the real one."""

    def __init__(self, module: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]):
        self.module, self.name, self.args, self.kwargs = module, name, args, kwargs

    def made(self) -> Any:
        return getattr(real(self.module), self.name)(*self.args, **self.kwargs)


def _made_later(module: str, name: str) -> Callable[..., _Later]:
    def make(*args: Any, **kwargs: Any) -> _Later:
        return _Later(module, name, args, kwargs)

    make.__name__ = name
    return make


def highlight(code: str, lexer: Any, formatter: Any, outfile: Any = None) -> Any:
    """pygments.highlight, with the real lexer and formatter for stand-ins."""
    def made(part: Any) -> Any:
        return part.made() if isinstance(part, _Later) else part

    return real("pygments").highlight(code, made(lexer), made(formatter), outfile)
