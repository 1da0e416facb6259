"""The code version: a short hash of the function modules' source files.

The function modules are the application's (its `joelclaw.functions` entry points plus
`JOELCLAW_FUNCTION_MODULES`); a package counts with every `.py` file under it. Files are found
without importing the modules themselves (`importlib.util.find_spec`), so the `up --reload`
watcher and `joelclaw reload` read the same files a worker imports. Helpers those modules import
from elsewhere are not part of the version: a change there needs a restart or a reload of a
function module that uses it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path

MISSING = "missing"


def module_files(modules: Iterable[str]) -> list[tuple[str, list[Path]]]:
    """Each module with its source files (empty when it cannot be found)."""
    importlib.invalidate_caches()  # files added since the last look are seen
    found: list[tuple[str, list[Path]]] = []
    for name in modules:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        files: list[Path] = []
        if spec is not None and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                files += sorted(p for p in Path(location).rglob("*.py")
                                if "__pycache__" not in p.parts)
        elif spec is not None and spec.origin and spec.origin.endswith(".py"):
            files.append(Path(spec.origin))
        found.append((name, files))
    return found


def version_of(modules: Iterable[str]) -> str:
    """12 hex digits of SHA-256 over the modules' names, file names and bytes."""
    digest = hashlib.sha256()
    for name, files in module_files(modules):
        digest.update(name.encode() + b"\0")
        if not files:
            digest.update(MISSING.encode() + b"\0")
        for path in files:
            digest.update(path.name.encode() + b"\0")
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(MISSING.encode())
            digest.update(b"\0")
    return digest.hexdigest()[:12]


def stamps(modules: Iterable[str]) -> dict[Path, tuple[int, int]]:
    """Modification time and size of every source file (what the `up --reload` watcher
    compares; cheap: one stat per file)."""
    seen: dict[Path, tuple[int, int]] = {}
    for _, files in module_files(modules):
        for path in files:
            try:
                info = path.stat()
            except OSError:
                continue
            seen[path] = (info.st_mtime_ns, info.st_size)
    return seen
