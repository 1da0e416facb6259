"""`joelclaw forget --event ID | --match TEXT | --person NAME [--dry-run]` and `joelclaw
forgotten` (the audit). Like bulk cancel and replay: show what would go, ask on a terminal or
require --yes (JSON mode and scripts are never asked), then act with progress on stderr."""

from __future__ import annotations

import sys
from typing import Any

import click

from joelclaw.cli.app import Session, command
from joelclaw.cli.output import Failure, Reply, action


def _render_plan(result: dict[str, Any]) -> str:
    head = ("Would forget" if result.get("dry_run") else "Forgot") + \
        f" ({result['id']}, reason: {result['reason']}): {len(result['events'])} event(s), " \
        f"{len(result['runs'])} run(s)"
    counts = ", ".join(f"{store} {n}" for store, n in sorted(result["counts"].items()))
    lines = [head, f"  {counts or 'nothing found'}"]
    for found in result["found"][:50]:
        seen = f"  “{found['excerpt']}”" if found.get("excerpt") else ""
        lines.append(f"  {found['store']:<24} {found['where'][:60]:<60} {found['action']}{seen}")
    if len(result["found"]) > 50:
        lines.append(f"  … and {len(result['found']) - 50} more (--json lists all)")
    lines += [f"  note: {note}" for note in result.get("notes") or []]
    if result.get("aof"):
        lines.append(f"  append-only file rewritten: {result['aof'].get('rewritten')}")
    return "\n".join(lines)


def _render_audit(result: list[dict[str, Any]]) -> str:
    if not result:
        return "Nothing has been forgotten."
    lines = []
    for record in result:
        sel = record["selector"]
        what = sel.get("event") or f"{sel['kind']} ({sel['length']} chars)"
        counts = ", ".join(f"{k} {v}" for k, v in sorted(record["counts"].items()))
        lines.append(f"{record['id']}  by {record.get('by')}  {what}: {record['reason']}  "
                     f"[{counts}]")
    return "\n".join(lines)


@command("forget")
@click.option("--event", "event_id", default=None, help="An event id: it and all it led to.")
@click.option("--match", "text", default=None, help="A text, wherever it appears.")
@click.option("--person", default=None, help="A name, as a whole word, wherever it appears.")
@click.option("--reason", default="forgotten on request", show_default=True,
              help="Kept on the stubs and in the audit (must not contain the text).")
@click.option("--dry-run", is_flag=True, help="Show what would be forgotten; change nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (required in JSON mode).")
def forget(session: Session, event_id: str | None, text: str | None, person: str | None,
           reason: str, dry_run: bool, yes: bool) -> Reply:
    """Forget an event, a text or a person everywhere it spread: event log, runs, traces,
    Typesense, every cache tier, daily logs, MEMORY.md, and the AOF on its rewrite."""
    from joelclaw.forget import ForgetError, execute, plan

    given = [(k, v) for k, v in (("event", event_id), ("match", text), ("person", person))
             if v]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --event, --match, --person")
    kind, value = given[0]
    rt = session.runtime()
    try:
        found = plan(rt, kind=kind, value=value, reason=reason,  # type: ignore[arg-type]
                     progress=session.out.progress)
    except ForgetError as exc:
        raise Failure(str(exc), exc.code, "Change the selector or the reason.", 2) from None
    preview = found.as_dict(dry_run=True)
    if dry_run or not found.findings:
        return Reply(preview, _render_plan,
                     [action(f"forget --{kind} … --yes", "forget it")] if found.findings else [])
    if not yes:
        what = f"forget {len(found.findings)} item(s) in {len(found.counts())} store(s)"
        if session.out.json_mode or not sys.stdin.isatty():
            raise Failure(f"this would {what}: confirm with --yes (JSON mode and scripts are "
                          "never asked)", "CONFIRMATION_REQUIRED",
                          "Check with --dry-run, then run the same command with --yes.", 2,
                          result=preview)
        click.echo(_render_plan(preview), err=True)
        if not click.confirm(f"{what.capitalize()}?", default=False, err=True):
            raise Failure("not confirmed: nothing was changed", "NOT_CONFIRMED",
                          "Run it again and answer yes, or add --yes.", 1)
    record = execute(rt, found, by="cli", progress=session.out.progress)
    return Reply(record, _render_plan, [action("forgotten", "the audit of what was forgotten")])


@command("forgotten")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def forgotten(session: Session, limit: int) -> Reply:
    """The audit of what was forgotten: when, why, by whom, how much in each store."""
    from joelclaw.forget import audit

    return Reply(audit(session.runtime(), limit), _render_audit)
