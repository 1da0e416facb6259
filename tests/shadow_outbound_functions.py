"""Functions that reach out by every path that is not one of the HTTP API clients: a calendar
feed, a document fetched by URL, a configured program, the agent command, and Typesense (whose
package speaks its own HTTP). Their steps declare `read`, so a shadow run re-executes them: what
they send must then be answered from the recording (or refused), never reach the fakes or change
a collection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from joelclaw import Context, function
from joelclaw.agents import dispatch
from joelclaw.checks import calendar, commands
from joelclaw.docs import source
from joelclaw.events.payloads.agents import AgentRequested
from joelclaw.integrations.typesense import SearchClient, schema_field

COLLECTION = "shadow_outbound"
SUFFIX = ""  # the tests change it to stand for a code change


def _calendar(ctx: Context[Any]) -> list[str]:
    ics = calendar.fetch(ctx.settings) or ""
    events = calendar.events_on(ics, _day(ctx.event.data["day"]), "UTC")
    return [e["summary"] + SUFFIX for e in events]


def _day(text: str) -> Any:
    from datetime import date

    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _document(ctx: Context[Any]) -> dict[str, Any]:
    raw = source.read(ctx.settings, source.locate(ctx.settings, url=ctx.event.data["doc"]))
    return {"bytes": len(raw.data), "type": raw.media_type + SUFFIX}


def _command(ctx: Context[Any]) -> str:
    done = commands.run(ctx.event.data["command"], "exported", ctx.run_id, effect="read")
    return done.stdout.strip() + SUFFIX


def _agent(ctx: Context[Any]) -> dict[str, Any]:
    request = AgentRequested(request_id=f"shadow-{ctx.run_id[-12:]}", task="list the files")
    outcome = dispatch.run(ctx.settings.agents.dispatch_command, request, timeout=30,
                           workdir=Path(ctx.event.data["inbox"]))
    return {"status": outcome.status, "output": outcome.output.strip()[:80] + SUFFIX}


def _index(ctx: Context[Any]) -> int:
    search = SearchClient.from_settings(ctx.settings)
    search.ensure_collection({"name": COLLECTION, "fields": [schema_field("text", "string")]})
    search.upsert(COLLECTION, {"id": ctx.run_id, "text": ctx.event.data["text"] + SUFFIX})
    return search.count(COLLECTION)


@function("shadow-outbound", trigger="shadow/outbound", retries=0)
def outbound(ctx: Context[Any]) -> dict[str, Any]:
    """Each step is declared `read`; the agent's and Typesense's writes inside make that a
    mistake the shadow report names, as the owner would need to see."""
    return {"calendar": ctx.step.run("calendar", _calendar, ctx, effect="read"),
            "document": ctx.step.run("document", _document, ctx, effect="read"),
            "command": ctx.step.run("command", _command, ctx, effect="read"),
            "indexed": ctx.step.run("index", _index, ctx, effect="read"),
            "agent": ctx.step.run("agent", _agent, ctx, effect="read")}
