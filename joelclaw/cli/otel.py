"""`joelclaw otel list|search|stats` (telemetry events in Typesense's `otel_events`, LLM spend
per day and function) and `joelclaw search <query> [-c collection]` (every collection)."""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.app import Session, cli, command
from joelclaw.cli.memory import MEMORY_FIX
from joelclaw.cli.output import Failure, Reply, action, fmt_time, table


def _search(session: Session, *, required: bool = True) -> Any:
    from joelclaw.integrations.typesense import SearchClient, SearchUnavailable, resolve_endpoint

    settings = session.settings
    endpoint = resolve_endpoint(settings)
    if endpoint is None:
        if not required:
            return None
        raise Failure("no Typesense configured: telemetry events and search live in Typesense",
                      SearchUnavailable.code, MEMORY_FIX,
                      next_actions=[action("up", "start the system with its Typesense")])
    return SearchClient(endpoint.url, endpoint.api_key,
                        timeout=settings.typesense.timeout_seconds)


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from joelclaw.integrations.http import IntegrationError
    from joelclaw.integrations.typesense import SearchUnavailable

    try:
        return fn(*args, **kwargs)
    except SearchUnavailable as exc:
        raise Failure(str(exc), exc.code, MEMORY_FIX,
                      next_actions=[action("up", "start the system with its Typesense")]
                      ) from None
    except IntegrationError as exc:
        raise Failure(str(exc), "OTEL_QUERY_FAILED", "Check the filters and that Typesense "
                      "answers (`joelclaw status`).") from None


@cli.group("otel")
def otel_group() -> None:
    """Telemetry events (failures, LLM calls) and LLM spend."""


def _render_events(result: dict[str, Any]) -> str:
    rows = [(fmt_time(e["timestamp"] / 1000), e["level"], e["component"], e["action"],
             "ok" if e["success"] else "FAIL", (e.get("error") or "")[:70], e.get("run_id") or "")
            for e in result["events"]]
    head = f"{result['found']} event(s)"
    return head + ("\n" + table(["time", "level", "component", "action", "ok", "error", "run"],
                                rows) if rows else "")


def _filters(f: Any) -> Any:
    for option in (
        click.option("--level", type=click.Choice(["debug", "info", "warn", "error", "fatal"])),
        click.option("--component", help="A function id, or 'gateway', 'llm' ..."),
        click.option("--source", help="worker, llm, o11y ..."),
        click.option("--failed", is_flag=True, help="Only failures (success = false)."),
        click.option("--hours", type=click.FloatRange(0, min_open=True), default=24.0,
                     show_default=True),
        click.option("--limit", type=click.IntRange(1, 250), default=20, show_default=True),
    ):
        f = option(f)
    return f


def _query(session: Session, query: str, level: str | None, component: str | None,
           source: str | None, failed: bool, hours: float, limit: int) -> dict[str, Any]:
    from joelclaw.telemetry import query as q

    search = _search(session)
    rt = session.runtime()
    _guard(q.flushed, rt, search)
    return _guard(q.events, search, query, limit=limit, hours=hours, level=level,
                  component=component, source=source, success=False if failed else None)


@command("list", group=otel_group)
@_filters
def otel_list(session: Session, level: str | None, component: str | None, source: str | None,
              failed: bool, hours: float, limit: int) -> Reply:
    """Recent telemetry events, newest first."""
    result = _query(session, "*", level, component, source, failed, hours, limit)
    return Reply(result, _render_events, [action("otel search <query>", "search their text"),
                                          action("otel stats", "counts and LLM spend")])


@command("search", group=otel_group)
@click.argument("query", nargs=-1, required=True)
@_filters
def otel_search(session: Session, query: tuple[str, ...], level: str | None,
                component: str | None, source: str | None, failed: bool, hours: float,
                limit: int) -> Reply:
    """Telemetry events whose component, action, error or metadata match QUERY."""
    result = _query(session, " ".join(query), level, component, source, failed, hours, limit)
    return Reply({"query": " ".join(query), **result}, _render_events,
                 [action("run <run-id>", "the run of an event")])


def _render_stats(result: dict[str, Any]) -> str:
    spend = result["spend"]
    budget = spend["budget_usd"]
    lines = [f"LLM spend today ${spend['today_usd']:.4f}" + (
        f" of ${budget:.2f} ({spend['today_share'] * 100:.0f} %)" if budget else
        " (no daily budget)"), "", "per day:"]
    lines.append(table(["date", "usd", "calls", "in tokens", "out tokens"],
                       [(d["date"], f"{d['usd']:.4f}", d["calls"], d["input_tokens"],
                         d["output_tokens"]) for d in spend["days"]]))
    lines += ["", "per function:"]
    lines.append(table(["function", "usd", "calls", "tokens"],
                       [(name, f"{row['usd']:.4f}", int(row["calls"]), int(row["tokens"]))
                        for name, row in spend["functions"].items()]) or "  (none)")
    events = result["events"]
    if events is None:
        lines += ["", "events: no Typesense configured"]
    else:
        lines += ["", f"events in the last {result['window_hours']:g} h: {events['found']}"]
        for facet in ("level", "component"):
            if events.get(facet):
                lines.append(f"  by {facet}: " + ", ".join(
                    f"{k} {v}" for k, v in events[facet].items()))
    return "\n".join(lines)


@command("stats", group=otel_group)
@click.option("--days", type=click.IntRange(1, 400), default=7, show_default=True)
@click.option("--hours", type=click.FloatRange(0, min_open=True), default=24.0,
              show_default=True, help="The window of the event counts.")
def otel_stats(session: Session, days: int, hours: float) -> Reply:
    """LLM spend per day and per function, and event counts by level and component."""
    from joelclaw.telemetry import query as q

    rt = session.runtime()
    search = _search(session, required=False)
    if search is not None:
        _guard(q.flushed, rt, search)
    result = _guard(q.stats, rt, search, days=days, hours=hours)
    return Reply(result, _render_stats, [action("otel list --failed", "recent failures")])


def _render_search(result: dict[str, Any]) -> str:
    lines = []
    for name, found in result["collections"].items():
        lines.append(f"{name}: {found['found']} hit(s)")
        lines += [f"  {h['id']}  {h['text'][:100]}" for h in found["hits"]]
    if result["absent"]:
        lines.append("absent: " + ", ".join(result["absent"]))
    return "\n".join(lines) or "nothing found"


@command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("-c", "--collection", help="memory_observations, otel_events, docs, docs_chunks")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
def search_command(session: Session, query: tuple[str, ...], collection: str | None,
                   limit: int) -> Reply:
    """Text search across the Typesense collections (or one, with -c)."""
    from joelclaw.insight.search import COLLECTIONS, UnknownCollection, search_all

    if collection is not None and collection not in COLLECTIONS:
        raise Failure(f"unknown collection {collection!r}", "INVALID_COLLECTION",
                      f"Use one of: {', '.join(COLLECTIONS)}.", exit_code=2)
    search = _search(session)
    if collection in (None, "otel_events"):
        from joelclaw.telemetry import query as q

        _guard(q.flushed, session.runtime(), search)
    try:
        result = _guard(search_all, search, " ".join(query), collection=collection, limit=limit)
    except UnknownCollection as exc:
        raise Failure(str(exc), "INVALID_COLLECTION", "Use a known collection.",
                      exit_code=2) from None
    return Reply(result, _render_search, [action("recall <query>", "memory, ranked")])
