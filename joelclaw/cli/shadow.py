"""`shadow`, `cassettes`, `cassette`: replay recorded runs on the current code without acting,
and the recorded external calls (model calls with their tokens and cost) that make it possible.
"""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli import render
from joelclaw.cli.app import DURATION, Session, command
from joelclaw.cli.output import Reply, action, fmt_age, table
from joelclaw.errors import NotFound

LIMIT = click.IntRange(1, 500)


@command("shadow")
@click.argument("run_id", required=False)
@click.option("--function", "function_id", default=None,
              help="Replay this function's finished runs (with --since).")
@click.option("--since", type=DURATION, default=None,
              help="Only runs created within this long, e.g. 1h, 7d.")
@click.option("--limit", type=LIMIT, default=50, show_default=True)
@click.option("--code", type=click.Choice(["current"]), default="current", show_default=True,
              help="The code to run: this process's (the current code).")
@click.option("--model", default=None,
              help="Ask this model instead of replaying the recorded model calls.")
@click.option("--reask", is_flag=True,
              help="Ask the configured model again instead of replaying its cassettes.")
@click.option("--allow", multiple=True, metavar="SERVICE",
              help="A service whose read calls may go out when nothing was recorded "
                   "(repeatable; writes and notifications never do).")
@click.option("--show", "report_id", default=None, help="Show a stored shadow report.")
def shadow(session: Session, run_id: str | None, function_id: str | None,
           since: float | None, limit: int, code: str, model: str | None, reask: bool,
           allow: tuple[str, ...], report_id: str | None) -> Reply:
    """Re-execute recorded runs on the current code: write and notify steps (and every call a
    step makes through the clients) return their recorded output instead of acting; report
    which step outputs and final outputs differ, with a diff."""
    from joelclaw.shadow import Options, ReportStore, shadow_many

    rt = session.runtime()
    if report_id is not None:
        found = ReportStore(rt.redis).get(report_id)
        if found is None:
            raise NotFound(f"no shadow report {report_id!r} (reports are kept 7 days)")
        return Reply(found.view(), render_shadow, [])
    if run_id is None and function_id is None and since is not None:
        raise click.UsageError("--since selects runs of a function: add --function <id>")
    if run_id is None and function_id is None:
        recent = [r.summary() for r in ReportStore(rt.redis).recent()]
        return Reply(recent, render_reports, [
            action("shadow <run-id>", "replay one run"),
            action("shadow --function <id> --since 7d", "replay a function's recent runs")])
    options = Options(reask=reask, model=model, allow=list(allow))
    report = shadow_many(rt, run_ids=[run_id] if run_id else None, function=function_id,
                         since=since, limit=limit, options=options)
    actions = [action(f"shadow --show {report.id}", "this report again")]
    actions += [action(f"run {r.run_id}", "the recorded run's trace")
                for r in report.runs if r.status != "same"][:2]
    return Reply(report.view(), render_shadow, actions)


@command("cassettes")
@click.option("--run", "run_id", default=None, help="Every external call of this run.")
@click.option("--limit", type=LIMIT, default=20, show_default=True)
def cassettes(session: Session, run_id: str | None, limit: int) -> Reply:
    """Recorded external calls: the newest model calls (model, tokens, cost), or a run's calls
    by step."""
    from joelclaw.cassettes import CassetteStore

    store = CassetteStore(session.runtime().redis)
    if run_id is not None:
        found = [c for _, c in sorted(store.of_run(run_id).items(),
                                      key=lambda item: (item[1].at, item[0][1]))]
    else:
        found = store.recent(limit)
    rows = [c.summary() for c in found]
    return Reply(rows, render_cassettes,
                 [action(f"cassette {r['id']}", "what was sent and answered") for r in rows[:1]])


@command("cassette")
@click.argument("cassette_id")
def cassette(session: Session, cassette_id: str) -> Reply:
    """One recorded call: request, response, model, tokens, cost, run and step (redacted)."""
    from joelclaw.cassettes import CassetteStore

    found = CassetteStore(session.runtime().redis).get(cassette_id)
    if found is None:
        raise NotFound(f"no cassette {cassette_id!r} (cassettes expire with their runs)")
    actions = [action(f"run {found.run_id}", "the run that made it")] if found.run_id else []
    return Reply(found.model_dump(), None, actions)


# ---- terminal views --------------------------------------------------------------------------

def render_shadow(result: dict[str, Any]) -> str:
    totals = result["totals"]
    head = (f"{render.bold(result['id'])}: {totals['runs']} run(s), {totals['differ']} differ, "
            f"{totals['errors']} error(s), {totals['same']} same; {totals['provider_calls']} "
            f"call(s) left the machine, ${totals['cost_usd']:.6f}")
    return "\n\n".join([head, *(_run_block(run) for run in result["runs"])])


def _run_block(run: dict[str, Any]) -> str:
    word = {"same": "same", "differs": "DIFFERS", "error": "ERROR"}[run["status"]]
    lines = [f"{render.bold(run['run_id'])} ({run['function']})  {word}"]
    if run.get("error"):
        lines.append(f"  error: {run['error']}")
    lines.append(table(["step", "effect", "mode", "result"],
                       [(s["key"], s["effect"], s["mode"],
                         "same" if s["same"] else s.get("error") or "differs")
                        for s in run["steps"]]))
    for step in run["steps"]:
        if step.get("diff"):
            lines += [render.bold(f"  {step['key']}:"), _indent(step["diff"])]
    if run.get("output_diff"):
        lines += [render.bold("  output:"), _indent(run["output_diff"])]
    for call in run["model_calls"]:
        changed = ", request changed" if call["request_changed"] else ""
        lines.append(render.dim(f"  model {call['step']}#{call['seq']}: {call['mode']}{changed}"
                                f", {'same' if call['same'] else 'different'} answer, "
                                f"${call['cost_usd']:.6f}"))
    lines += [render.dim(f"  held: {h['what']} ({h['effect']}): {h['outcome']}")
              for h in run["held"]]
    lines += [render.dim(f"  undeclared: {u}") for u in run["undeclared"]]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def render_reports(result: list[dict[str, Any]]) -> str:
    return table(["report", "when", "runs", "differ", "errors", "calls out"],
                 [(r["id"], fmt_age(r["created_at"]), r["totals"]["runs"],
                   r["totals"]["differ"], r["totals"]["errors"], r["totals"]["provider_calls"])
                  for r in result])


def render_cassettes(result: list[dict[str, Any]]) -> str:
    return table(["id", "when", "run", "step", "service", "effect", "model", "tokens", "cost"],
                 [(r["id"], fmt_age(r["at"]), r["run_id"], f"{r['step']}#{r['seq']}"
                   if r["step"] else "-", f"{r['service']} {r['method']}", r["effect"],
                   r["model"], f"{r['input_tokens']}+{r['output_tokens']}" if r["model"] else "-",
                   f"${r['cost_usd']:.6f}" if r["model"] else "-") for r in result])


