"""`joelclaw schema [event]`: the event names this system knows (payload models and the names
functions are triggered by) and, for one event, its payload JSON Schema and who reacts to it."""

from __future__ import annotations

import difflib
import fnmatch
from typing import TYPE_CHECKING, Any

import click

from joelclaw.cli.app import Session, command
from joelclaw.cli.output import Failure, Reply, action, table

if TYPE_CHECKING:
    from joelclaw.runtime import Runtime


def _triggered(rt: Runtime) -> dict[str, list[str]]:
    """Event name or glob -> ids of the functions it triggers."""
    found: dict[str, list[str]] = {}
    for fn in rt.registry:
        for trig in fn.triggers:
            if trig.event:
                found.setdefault(trig.event, []).append(fn.id)
    return found


def _functions_for(name: str, triggered: dict[str, list[str]]) -> list[str]:
    return sorted({fn for pattern, fns in triggered.items() for fn in fns
                   if pattern == name or fnmatch.fnmatchcase(name, pattern)})


@command("schema")
@click.argument("event", required=False)
def schema(session: Session, event: str | None) -> Reply:
    """Event names and payload JSON Schemas (models, and the events functions react to)."""
    rt = session.runtime(redis_needed=False)
    from joelclaw.events.registry import models as payload_models

    models = payload_models()
    triggered = _triggered(rt)
    names = sorted(set(models) | {n for n in triggered if not _is_glob(n)})
    if event is None:
        rows = [{"name": name, "schema": name in models,
                 "fields": sorted(models[name].model_fields) if name in models else [],
                 "functions": _functions_for(name, triggered)} for name in names]
        globs = {n: fns for n, fns in triggered.items() if _is_glob(n)}
        return Reply({"events": rows, "globs": globs}, _render_list,
                     [action("schema <event>", "one event's payload JSON Schema"),
                      action("send <event> -d '{...}'", "send one")])
    functions = _functions_for(event, triggered)
    if event not in models and not functions:
        guess = difflib.get_close_matches(event, names, n=3)
        hint = f" Did you mean {', '.join(guess)}?" if guess else ""
        raise Failure(f"no schema and no function for event {event!r}.{hint}", "UNKNOWN_EVENT",
                      "List the known names with `joelclaw schema`; any valid name can still "
                      "be sent, with free-form data.",
                      next_actions=[action(f"schema {g}", "a similar name") for g in guess])
    model = models.get(event)
    result = {"name": event, "schema": model.model_json_schema() if model else None,
              "free_form": model is None, "functions": functions}
    return Reply(result, _render_one, [action(f"send {event} -d '{{...}}'", "send one"),
                                       action(f"runs --event {event}", "its runs")])


def _is_glob(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _render_list(result: dict[str, Any]) -> str:
    rows = [(e["name"], "yes" if e["schema"] else "free-form", ", ".join(e["fields"]) or "-",
             ", ".join(e["functions"]) or "-") for e in result["events"]]
    text = table(["event", "schema", "fields", "functions"], rows)
    if result["globs"]:
        text += "\n\nglob triggers: " + "; ".join(f"{g} → {', '.join(f)}"
                                                 for g, f in result["globs"].items())
    return text


def _render_one(result: dict[str, Any]) -> str:
    import json

    head = f"{click.style(result['name'], bold=True)}  →  " \
           f"{', '.join(result['functions']) or 'no function'}"
    body = "free-form JSON data (no payload model)" if result["free_form"] \
        else json.dumps(result["schema"], indent=2)
    return f"{head}\n\n{body}"
