"""The dependency direction holds and every registry names things that resolve.

The import graph is built from the source (every import, inside functions and under
TYPE_CHECKING too, and `import_module` with a literal name), then checked for cycles and for
imports against the layering: `webhooks/` and `tasks/` use `joelclaw/`, never the reverse.
"""

from __future__ import annotations

import ast
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


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
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
    assert "joelclaw.bus.ports" in edges["joelclaw.bus.dispatch"]  # under TYPE_CHECKING
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
    """Only joelclaw.bus.wakeups writes, counts and reads the wake-up and outbox sets; a Lua
    script that changes them with a run's record gets their keys from it, in its KEYS list."""
    owner = "joelclaw.bus.wakeups"
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
