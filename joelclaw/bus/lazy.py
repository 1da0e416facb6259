"""A room's door that imports nothing until a name is taken through it.

Each room of the bus re-exports what outside code uses. Importing every module behind a door at
once would make `joelclaw runs` pay for Celery's beat and worker bootsteps, so a room names where
each of its names lives and `door` gives it a module `__getattr__` (PEP 562) that imports only the
module defining the name asked for, once.

A room never exports a name equal to one of its modules' names unless the name is that module
(a namespace such as `control.bulk`): importing a module sets it as an attribute of its package,
which would then hide the exported name (hence `records/previews.py`, `control/pausing.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def door(package: str, homes: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                           Callable[[], list[str]]]:
    """`__getattr__` and `__dir__` for `package`. `homes` maps each public name to `"module"`
    (a module offered as a namespace) or `"module:attribute"` (inside the package)."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = home.partition(":")
        value: Any = import_module(f"{package}.{module}")
        if attribute:
            value = getattr(value, attribute)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
