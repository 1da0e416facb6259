"""The dependency direction holds: `webhooks/` and `tasks/` use `joelclaw/`, never the reverse;
and every registry names things that resolve."""

from __future__ import annotations

import ast
from pathlib import Path

from joelclaw.bus.functions import Registry
from joelclaw.config import BUILTIN_FUNCTION_MODULES
from webhooks.providers import PROVIDERS

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_library_never_imports_tasks_or_webhooks():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "joelclaw").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in {"tasks", "webhooks", "tests", "bench"}
    ]
    assert offenders == []


def test_builtin_function_modules_load_and_declare_functions():
    registry = Registry.from_modules(BUILTIN_FUNCTION_MODULES)
    assert len(registry) > 0
    assert registry.get("system-heartbeat") is not None


def test_every_provider_names_a_real_setting():
    from joelclaw.config import Settings

    for name, provider in PROVIDERS.items():
        assert provider.secret_setting in Settings.model_fields, name
