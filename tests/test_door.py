"""One door for function authors: `from joelclaw import ...` gives what a function module needs,
`ctx.step` shows only the step kinds, and `tasks/` uses services, never the engine.

Read from the source (like tests/test_architecture.py) and from a fresh interpreter, so what an
editor's completion and a newcomer see is what these tests pin.
"""

from __future__ import annotations

import ast
import logging
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import joelclaw
from joelclaw.bus.execution import Context, Step, Steps, engine
from joelclaw.config import Settings
from joelclaw.events.model import Event
from joelclaw.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
DOOR = ["ConfigError", "Context", "Cooldowns", "Defer", "Duration", "Event", "EventError",
        "Function", "FunctionDefinitionError", "IntegrationError", "JoelclawError", "Lock",
        "NonRetriable", "RetryAfter", "Settings", "Step", "StepError", "Trigger", "absent",
        "cron", "function", "install_task_hooks", "register_payload", "send_event", "trigger"]
STEP_KINDS = {"run", "sleep", "sleep_until", "wait_for_event", "send_event", "invoke",
              "parallel", "task", "canvas"}
PAYLOADS = "joelclaw.events.payloads"
# The domain packages `tasks/` declares functions over ("thin tasks, fat library"). A function
# module takes from a domain only what the package's `__all__` offers (its public modules), never
# a module path inside it; the engine (the bus, the runtime, keys, Redis) is no domain.
DOMAINS = ("joelclaw.agents", "joelclaw.backups", "joelclaw.checks", "joelclaw.docs",
           "joelclaw.gateway", "joelclaw.media", "joelclaw.memory", "joelclaw.telemetry")


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def _task_sources() -> dict[Path, str]:
    return {path: path.read_text() for path in sorted((ROOT / "tasks").glob("*.py"))}


def test_the_door_exports_exactly_what_a_function_author_needs() -> None:
    assert joelclaw.__all__ == DOOR
    for name in DOOR:
        assert getattr(joelclaw, name) is not None, name
    assert joelclaw.Context is Context and joelclaw.Step is Step
    assert set(DOOR) <= set(dir(joelclaw))


def test_an_unknown_name_is_an_attribute_error_and_submodules_still_import() -> None:
    try:
        joelclaw.no_such_name  # noqa: B018
    except AttributeError as exc:
        assert "no_such_name" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
    from joelclaw import keys
    from joelclaw.coordination import cooldown

    assert keys.__name__ == "joelclaw.keys"
    assert cooldown.__name__ == "joelclaw.coordination.cooldown"


def test_importing_the_door_loads_nothing_heavy() -> None:
    probe = ("import sys, joelclaw; heavy = [m for m in ('redis', 'celery', 'kombu', 'pydantic',"
             " 'httpx', 'joelclaw.bus', 'joelclaw.runtime') if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "[]"


def test_step_shows_only_the_step_kinds() -> None:
    assert _public(Step) == STEP_KINDS
    plumbing = _public(Steps) - STEP_KINDS
    assert {"flush_into", "take_run_fields", "confirm_written"} <= plumbing  # the engine's side
    for kind in STEP_KINDS:
        assert getattr(Step, kind).__doc__, f"step.{kind} says what it does"


def test_the_context_offers_services_not_plumbing() -> None:
    public = _public(Context)
    assert {"settings", "cooldown", "lock", "cache", "cancel_requested", "events"} <= public
    for name in ("settings", "cooldown", "lock", "cache", "cancel_requested"):
        assert getattr(Context, name).__doc__, f"ctx.{name} has a docstring"


def test_the_engine_is_not_on_the_context(settings: Settings) -> None:
    """What an editor completes on `ctx.` is the run, the event, the steps and the services;
    the runtime (and its raw Redis) is reached only through `engine(ctx)`, by extensions and
    tests."""
    rt = Runtime(settings)
    ctx: Context[Any] = Context(event=Event(name="test/door"), step=None,  # type: ignore[arg-type]
                                run_id="run-1", attempt=1, function_id="f",
                                log=logging.getLogger("test"), _runtime=rt)
    assert _public(ctx) == {"event", "step", "run_id", "attempt", "function_id", "log",
                            "batch", "events", "settings", "cooldown", "lock", "cache",
                            "cancel_requested"}
    assert engine(ctx) is rt and ctx.settings is rt.settings
    try:
        ctx.runtime  # noqa: B018
    except AttributeError as exc:
        assert "services:" in str(exc)  # not a service either: the message lists the services
    else:
        raise AssertionError("ctx.runtime must not exist")


def _face(domain: str) -> list[str]:
    """A domain package's `__all__`, read from its source (importing it proves nothing)."""
    init = ROOT / Path(*domain.split(".")) / "__init__.py"
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def _imports_outside_the_rule(source: str) -> list[str]:
    """Every import in a function module's source (nested ones too) that is not a door name,
    an event payload module or a name a domain package offers."""
    wrong = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            wrong += [f"import {a.name}" for a in node.names
                      if a.name.split(".")[0] in ("joelclaw", "redis", "celery", "kombu")]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            module, names = node.module or "", [a.name for a in node.names]
            if module == "joelclaw":
                allowed: list[str] = DOOR
            elif module == PAYLOADS or module.startswith(PAYLOADS + "."):
                continue
            elif module in DOMAINS:
                allowed = _face(module)
            elif module.split(".")[0] in ("joelclaw", "redis", "celery", "kombu"):
                allowed = []
            else:
                continue
            wrong += [f"from {module} import {n}" for n in names if n not in allowed]
    return wrong


def test_tasks_import_the_door_payloads_and_domain_faces_only() -> None:
    """Function modules get the author's API from `joelclaw`, their payloads from
    `joelclaw.events.payloads`, and their logic from a domain package's public modules: no
    exceptions. What a task needs beyond that becomes a service on the context, a door name, or
    a function of its domain."""
    wrong = [f"{path.name}: {bad}" for path, source in _task_sources().items()
             for bad in _imports_outside_the_rule(source)]
    assert wrong == []


def test_the_import_rule_sees_a_reach_into_a_domain_or_the_engine() -> None:
    stray = ("from joelclaw import Context, keys\n"
             "from joelclaw.memory.decide import ProposalClosed\n"
             "from joelclaw.memory import decide, store\n"
             "from joelclaw.events.payloads.memory import SessionEnded\n"
             "def f():\n    import redis\n    from joelclaw.bus.records import Run\n")
    assert _imports_outside_the_rule(stray) == [
        "from joelclaw import keys", "from joelclaw.memory.decide import ProposalClosed",
        "from joelclaw.memory import store", "import redis",
        "from joelclaw.bus.records import Run"]


def test_a_domain_face_offers_its_own_modules() -> None:
    """Each domain's `__all__` names modules of that package (so `from joelclaw.<domain> import
    <name>` loads one module, and a face cannot smuggle an engine name through)."""
    for domain in DOMAINS:
        folder = ROOT / Path(*domain.split("."))
        face = _face(domain)
        assert face, f"{domain} has a public face"
        assert [n for n in face if not (folder / f"{n}.py").exists()] == [], domain


def test_tasks_use_services_never_the_runtime_or_raw_redis() -> None:
    found = []
    for path, source in _task_sources().items():
        for number, line in enumerate(source.splitlines(), 1):
            if re.search(r"\bctx\.runtime\b|\.redis\.|\bredis_client=|\brt\.", line):
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert found == []


def _joelclaw_imports(source: str, *, top_level: bool = False) -> list[str]:
    """`joelclaw...` modules a source imports, with `joelclaw:<name>` for names from the door
    (only the module's own statements with `top_level`: a benchmark's harness is elsewhere)."""
    found = []
    tree = ast.parse(source)
    for node in (tree.body if top_level else ast.walk(tree)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("joelclaw"):
            if node.module == "joelclaw":
                found += [f"joelclaw:{alias.name}" for alias in node.names]
            else:
                found.append(node.module or "")
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("joelclaw")]
    return found


def _outside_the_door(imported: list[str]) -> list[str]:
    return [name for name in imported
            if not (name.startswith("joelclaw:") and name[len("joelclaw:"):] in DOOR)
            and not name.startswith("joelclaw.events.payloads")]


def test_the_readme_example_needs_the_door_and_payloads_only() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "@function" in b]
    assert blocks, "the README shows how to write a function"
    for block in blocks:
        imported = _joelclaw_imports(block)
        assert "joelclaw:function" in imported
        assert _outside_the_door(imported) == []


def test_the_bench_functions_use_the_door() -> None:
    """The benchmarks' function modules are written as a function author would (what their
    harness, inside `main()`, builds to measure the engine is not a function's business; the
    chaos functions look into the run store on purpose, through `engine(ctx)`)."""
    for name in ("functions", "flow", "canvas_functions", "memory_functions"):
        imported = _joelclaw_imports((ROOT / "bench" / f"{name}.py").read_text(),
                                     top_level=True)
        assert _outside_the_door(imported) == [], name
