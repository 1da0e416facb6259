"""The dependency direction holds and every registry names things that resolve.

The import graph is built from the source (every import, inside functions and under
TYPE_CHECKING too, and `import_module` with a literal name), then checked for cycles and for
imports against the layering: `webhooks/` and `tasks/` use `joelclaw/`, never the reverse.
The bus is rooms (`BUS_LAYERS`): code outside a room takes only the names its package exports,
and a room imports only rooms of lower layers.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

from joelclaw.application import installed
from joelclaw.bus.functions import Registry
from webhooks.providers import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("joelclaw", "tasks", "webhooks", "beat_schedule")
RULES = (
    ("joelclaw", "tasks", "the library never imports the app layer"),
    ("joelclaw", "webhooks", "the library never imports the web app"),
    ("joelclaw", "beat_schedule", "the library never imports the app layer"),
    ("joelclaw.events", "joelclaw.bus", "events are data: they know no bus"),
    ("joelclaw.bus", "joelclaw.gateway", "the bus knows no gateway"),
    ("joelclaw.bus", "joelclaw.cli", "the bus knows no CLI"),
    ("joelclaw.bus", "joelclaw.memory", "the bus knows no memory"),
    ("joelclaw.bus", "joelclaw.telemetry", "the bus knows telemetry only as its port"),
    ("joelclaw.integrations", "joelclaw.telemetry", "clients report usage, they record nothing"),
    ("joelclaw.gateway", "joelclaw.memory", "extensions meet through the runtime's hooks"),
    ("joelclaw.memory", "joelclaw.gateway", "extensions meet through the runtime's hooks"),
    ("webhooks.providers", "joelclaw.bus", "providers are pure: verify and normalize only"),
)

# The bus's rooms, lowest first: a room may import rooms (and bus-level modules) of lower layers
# only, never one of its own layer or above. Bus-level modules are named by their module name.
BUS_LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"lazy"}),  # the lazy door every room's package uses
    frozenset({"functions", "records"}),
    frozenset({"ports"}),  # the Bus protocol: types from functions and records
    frozenset({"delivery"}),
    frozenset({"control"}),
    frozenset({"flow"}),
    frozenset({"intake", "execution"}),
    frozenset({"celery"}),
)
BUS_MODULES = frozenset({"lazy", "ports"})  # bus-level modules, not rooms
# What sits directly in joelclaw/: packages by concern, the core every part shares, and the
# modules processes start by name (Procfile, docker/, `up`). A small helper joins the package
# that uses it instead of widening this list.
TOP_LEVEL = frozenset({
    "agents", "application", "backups", "bus", "cache", "cassettes", "checks", "cli",
    "coordination", "docs", "durations", "embedded", "events", "expressions", "forget", "gateway",
    "insight", "integrations", "media", "memory", "shadow", "supervisor", "telemetry",  # packages
    "client", "config", "credentials", "durability", "effects", "errors", "health", "keys",
    "ownerfiles", "provenance", "redaction", "redisconn", "runtime",  # the core
    "deadman", "flower", "probe", "webserver", "worker",  # started by name
})
ROOMS = frozenset().union(*BUS_LAYERS) - BUS_MODULES
OUTSIDE = (*PACKAGES, "tests", "bench")  # every place that may use the bus from outside


def modules(packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        single = ROOT / f"{package}.py"
        if single.is_file():
            found[package] = single
            continue
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every module of the project that `name` imports, anywhere in its source."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        candidates: list[str] = []
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, base] if base else parts)
            candidates = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                          for a in node.names]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if called in {"import_module", "__import__"} and isinstance(arg, ast.Constant) \
                    and isinstance(arg.value, str):
                candidates = [arg.value]
        for candidate in candidates:
            target = _resolve(candidate, known)
            if target is not None and target != name:
                targets.add(target)
    return targets


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in edges:
        if node not in index:
            visit(node)
    return found


def _inside(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_the_graph_sees_imports_inside_functions_and_type_checking_blocks() -> None:
    edges = graph()
    assert "joelclaw.bus.ports" in edges["joelclaw.bus.intake.dispatch"]  # under TYPE_CHECKING
    assert "joelclaw.gateway.plugin" in edges["joelclaw.runtime"]
    assert "joelclaw.memory.plugin" in edges["joelclaw.runtime"]
    assert "joelclaw.memory.recall" in edges["joelclaw.memory.plugin"]  # inside a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_there_is_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_imports_follow_the_layering() -> None:
    broken = [f"{module} imports {target} ({why})"
              for module, targets in graph().items() for target in sorted(targets)
              for low, high, why in RULES
              if _inside(module, low) and _inside(target, high) and not _inside(target, low)]
    assert broken == []


def test_the_installed_application_loads_and_declares_functions() -> None:
    app = installed()
    assert {"tasks.system", "tasks.gateway", "tasks.notifiers", "tasks.memory"} <= set(
        app.function_modules)
    registry = Registry.from_modules(app.function_modules)
    assert len(registry) > 0
    assert registry.get("system-heartbeat") is not None
    assert app.beat_entries, "beat_schedule:extra_entries is declared"
    assert isinstance(app.extra_beat_entries(None), dict)


def test_every_provider_names_a_real_setting() -> None:
    from joelclaw.config import Settings

    for name, provider in PROVIDERS.items():
        assert provider.secret_setting in Settings.model_fields, name


def _room_of(module: str) -> str | None:
    """The room (or bus-level module) `module` belongs to, None outside the bus."""
    parts = module.split(".")
    if parts[:2] != ["joelclaw", "bus"] or len(parts) < 3:
        return None
    return parts[2]


def _layer(room: str) -> int:
    return next(i for i, layer in enumerate(BUS_LAYERS) if room in layer)


def test_the_top_level_holds_only_what_is_named() -> None:
    top = ROOT / "joelclaw"
    found = {p.stem for p in top.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in top.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert found == TOP_LEVEL


def test_the_bus_is_rooms_and_each_room_has_a_door() -> None:
    bus = ROOT / "joelclaw" / "bus"
    found = {p.stem for p in bus.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in bus.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert found == ROOMS | BUS_MODULES, "a new room or bus-level module goes into BUS_LAYERS"
    assert (bus / "__init__.py").read_text().strip() == "", "the bus itself exports nothing"
    for room in sorted(ROOMS):
        package = importlib.import_module(f"joelclaw.bus.{room}")
        assert package.__doc__, room
        assert len(package.__all__) == len(set(package.__all__)), room
        assert set(dir(package)) - set(vars(package)) <= set(package.__all__), room
        for name in package.__all__:
            assert getattr(package, name) is not None, f"joelclaw.bus.{room}.{name}"


def outside_imports() -> list[tuple[str, str, list[str]]]:
    """(importing module, imported module, names) for every bus import outside the bus."""
    found = []
    for name, path in modules(OUTSIDE).items():
        if _room_of(name) is not None:
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.append((name, node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found.extend((name, a.name, []) for a in node.names)
            elif isinstance(node, ast.Call) and node.args:
                func, arg = node.func, node.args[0]
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called in {"import_module", "__import__"} and isinstance(arg, ast.Constant) \
                        and isinstance(arg.value, str):
                    found.append((name, arg.value, []))
    return [(m, target, names) for m, target, names in found
            if target == "joelclaw.bus" or target.startswith("joelclaw.bus.")]


def test_outside_code_takes_only_what_a_room_exports() -> None:
    assert any(target == "joelclaw.bus.records" for _, target, _ in outside_imports())
    broken = []
    for module, target, names in outside_imports():
        room = _room_of(target)
        if target == "joelclaw.bus":
            broken += [f"{module}: from joelclaw.bus import {n}" for n in names
                       if n not in ROOMS | {"ports"}]
        elif room == "ports" and target == "joelclaw.bus.ports":
            continue
        elif room not in ROOMS or target != f"joelclaw.bus.{room}":
            broken.append(f"{module} imports {target}: import from the room's package instead")
        else:
            exported = set(importlib.import_module(target).__all__)
            broken += [f"{module}: {target} does not export {n}" for n in names
                       if n not in exported]
    assert broken == []


def test_rooms_depend_only_on_lower_layers() -> None:
    broken = []
    for module, targets in graph().items():
        room = _room_of(module)
        if room is None or (module == f"joelclaw.bus.{room}" and room in ROOMS):
            continue  # a room's package imports its own modules (lazily)
        for target in sorted(targets):
            other = _room_of(target)
            if other is None or other == room:
                continue
            if _layer(other) >= _layer(room):
                broken.append(f"{module} imports {target}: {other} is not below {room}")
    assert broken == []


def test_a_room_door_imports_none_of_the_modules_behind_it() -> None:
    """The CLI takes single names from rooms: opening every door loads no bus module, so each
    name costs only the module that defines it (bench/cli_start.py)."""
    probe = ("import json, sys\n"
             + "".join(f"import joelclaw.bus.{room}\n" for room in sorted(ROOMS))
             + "print(json.dumps(sorted(m for m in sys.modules if m.startswith('joelclaw'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True, timeout=60)
    loaded = set(json.loads(done.stdout))
    assert loaded == {"joelclaw", "joelclaw.bus", "joelclaw.bus.lazy",
                      *(f"joelclaw.bus.{room}" for room in ROOMS)}


def _durable_time_uses(tree: ast.AST) -> tuple[list[int], list[int]]:
    """Lines naming the wake-up/outbox keys (`keys.WAKEUPS`, `keys.OUTBOX`), and lines using
    `wakeups.SETS` outside a list display (a script's KEYS are a list; a Redis command is not)."""
    named = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Attribute)
             and node.attr in ("WAKEUPS", "OUTBOX")]
    in_lists = {id(inner) for node in ast.walk(tree) if isinstance(node, ast.List)
                for inner in ast.walk(node)}
    loose = [node.lineno for node in ast.walk(tree)
             if isinstance(node, ast.Attribute) and node.attr == "SETS"
             and id(node) not in in_lists]
    return named, loose


def test_durable_time_has_one_owner() -> None:
    """Only joelclaw.bus.records.wakeups writes, counts and reads the wake-up and outbox sets; a Lua
    script that changes them with a run's record gets their keys from it, in its KEYS list."""
    owner = "joelclaw.bus.records.wakeups"
    found = []
    for name, path in modules().items():
        if name in (owner, "joelclaw.keys"):
            continue
        named, loose = _durable_time_uses(ast.parse(path.read_text()))
        found += [f"{name}:{line} names the key" for line in named]
        found += [f"{name}:{line} uses wakeups.SETS outside a script's KEYS" for line in loose]
    assert found == []
    assert owner in graph()["joelclaw.cli.commands"]  # `joelclaw status` counts through it
    assert owner in graph()["webhooks.dashboard.models"]  # and so does the dashboard


def test_the_durable_time_check_sees_a_stray_writer() -> None:
    stray = ast.parse("pipe.zadd(keys.WAKEUPS, {t: 1})\nr.zcard(wakeups.SETS.outbox)\n"
                      "s.x(keys=[wakeups.SETS.wakeups])\n")
    assert _durable_time_uses(stray) == ([1], [2])
