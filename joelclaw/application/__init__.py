"""The application the library runs: its function modules and extra beat entries.

The library names no application module. An application declares its parts in its packaging
metadata, as entry points (the standard plugin registry of Python packages), and the entry
points (`joelclaw.worker`, the CLI, the web factory) hand them to the runtime:

    [options.entry_points]
    joelclaw.functions =
        system = tasks.system          # a module of @function declarations
    joelclaw.beat =
        extra = beat_schedule:extra_entries   # callable(runtime) -> {name: beat entry}

`JOELCLAW_FUNCTION_MODULES` adds modules at deploy time (after the declared ones). The version
of their code, which a reload compares, is `codeversion`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from joelclaw.errors import FunctionDefinitionError

FUNCTIONS_GROUP = "joelclaw.functions"
BEAT_GROUP = "joelclaw.beat"

BeatEntries = Callable[[Any], dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class Application:
    function_modules: tuple[str, ...] = ()
    beat_entries: tuple[BeatEntries, ...] = field(default=())

    def with_modules(self, extra: Iterable[str]) -> Application:
        """These modules plus `extra` (each once, in order)."""
        modules = list(self.function_modules)
        modules += [m for m in extra if m not in modules]
        return Application(tuple(modules), self.beat_entries)

    def extra_beat_entries(self, runtime: Any) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        for produce in self.beat_entries:
            entries.update(produce(runtime))
        return entries


def function_modules(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The installed application's function module names plus `extra`, importing nothing."""
    return Application(tuple(ep.value for ep in sorted(
        metadata.entry_points(group=FUNCTIONS_GROUP), key=lambda ep: ep.name))
    ).with_modules(extra).function_modules


def installed() -> Application:
    """The application declared by the installed packages' entry points."""
    found = metadata.entry_points()  # both groups from one read of the installed packages
    modules = tuple(ep.value for ep in sorted(found.select(group=FUNCTIONS_GROUP),
                                              key=lambda ep: ep.name))
    beats = []
    for ep in sorted(found.select(group=BEAT_GROUP), key=lambda ep: ep.name):
        try:
            beats.append(ep.load())
        except (ImportError, AttributeError) as exc:
            raise FunctionDefinitionError(
                f"cannot load beat entries {ep.value!r} (entry point {BEAT_GROUP}): {exc}"
            ) from None
    return Application(modules, tuple(beats))
