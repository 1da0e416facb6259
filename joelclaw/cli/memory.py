"""`joelclaw recall <query>` and `joelclaw review list|approve|reject|approve-all|expire`.

Review decisions run here, synchronously, through the same code as the Todoist and Telegram
paths (joelclaw.memory.decide): the answer says what happened to MEMORY.md, and an unknown or
already decided proposal is a clear error with exit status 1.
"""

from __future__ import annotations

from typing import Any

import click

from joelclaw.cli.app import Session, cli, command
from joelclaw.cli.output import Failure, Reply, action

MEMORY_FIX = ("Run `joelclaw up` (it starts an embedded Typesense), or set "
              "JOELCLAW_TYPESENSE_URL and JOELCLAW_TYPESENSE_API_KEY.")


def _memory(session: Session) -> Any:
    from joelclaw.memory.plugin import memory_of

    return memory_of(session.runtime())


def _decision_failure(exc: Exception) -> Failure:
    from joelclaw.memory.decide import ProposalClosed

    code = "PROPOSAL_CLOSED" if isinstance(exc, ProposalClosed) else "PROPOSAL_NOT_FOUND"
    return Failure(str(exc), code, "List the open proposals with `joelclaw review list`.",
                   next_actions=[action("review list", "open proposals")])


def _render_recall(result: dict[str, Any]) -> str:
    head = f"{len(result['hits'])} memories for “{result['query']}” ({result['mode']})"
    lines = [head + (f" — {result['note']}" if result["note"] else "")]
    for hit in result["hits"]:
        lines.append(f"  {hit['score']:.3f}  ({hit['date']}) {hit['observation']}"
                     f"  [{hit['category']}, {hit['verdict']}]")
    return "\n".join(lines)


@command("recall")
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.option("--include", type=click.Choice(["hold", "discard", "all"]), multiple=True,
              help="Also return held / discarded observations (default: allowed only).")
@click.option("--no-cache", is_flag=True, help="Skip the 300 s recall cache.")
def recall_command(session: Session, query: tuple[str, ...], limit: int,
                   include: tuple[str, ...], no_cache: bool) -> Reply:
    """Hybrid (keyword + vector) search of what memory observed, newest weighed higher."""
    from joelclaw.integrations.typesense import SearchUnavailable
    from joelclaw.memory.recall import VERDICTS, recall

    verdicts = VERDICTS if "all" in include else ("allow", *include)
    try:
        result = recall(_memory(session), " ".join(query), limit=limit,
                        verdicts=tuple(dict.fromkeys(verdicts)), use_cache=not no_cache)
    except SearchUnavailable as exc:
        raise Failure(str(exc), exc.code, MEMORY_FIX,
                      next_actions=[action("up", "start the system with its Typesense")]
                      ) from None
    return Reply(result, _render_recall, [action("review list", "proposals awaiting review")])


@cli.group("review")
def review_group() -> None:
    """Memory proposals: list them, approve or reject them, expire old ones."""


def _render_list(result: dict[str, Any]) -> str:
    if not result["proposals"]:
        return "no open proposals"
    return "\n".join(f"{p['id']}  {p['status']:<12} {p['section']:<20} {p['change'][:90]}"
                     for p in result["proposals"])


@command("list", group=review_group)
@click.option("--status", type=click.Choice(["pending", "llm-pending", "needs-review"]),
              help="Only proposals with this status.")
def review_list(session: Session, status: str | None) -> Reply:
    """Open proposals, oldest first."""
    mem = _memory(session)
    found = [p.model_dump() for p in mem.proposals.pending()
             if p.open and (status is None or p.status == status)]
    return Reply({"proposals": found, "count": len(found)}, _render_list,
                 [action("review approve <id>", "promote one into MEMORY.md"),
                  action("review reject <id>", "reject one")])


@command("approve", group=review_group)
@click.argument("proposal_id")
def review_approve(session: Session, proposal_id: str) -> Reply:
    """Promote a proposal into MEMORY.md now."""
    from joelclaw.memory import decide
    from joelclaw.memory.decide import ProposalClosed
    from joelclaw.memory.proposals import ProposalNotFound

    try:
        result = decide.approve(_memory(session), proposal_id, by="cli")
    except (ProposalNotFound, ProposalClosed) as exc:
        raise _decision_failure(exc) from None
    return Reply(result, lambda r: f"{r['id']}: {r['status']}",
                 [action("review list", "what is left")])


@command("reject", group=review_group)
@click.argument("proposal_id")
@click.option("--reason", default="", help="Kept in the daily log.")
def review_reject(session: Session, proposal_id: str, reason: str) -> Reply:
    """Reject a proposal (archived in the daily log)."""
    from joelclaw.memory import decide
    from joelclaw.memory.decide import ProposalClosed
    from joelclaw.memory.proposals import ProposalNotFound

    try:
        result = decide.reject(_memory(session), proposal_id, by="cli", reason=reason)
    except (ProposalNotFound, ProposalClosed) as exc:
        raise _decision_failure(exc) from None
    return Reply(result, lambda r: f"{r['id']}: {r['status']}",
                 [action("review list", "what is left")])


@command("approve-all", group=review_group)
def review_approve_all(session: Session) -> Reply:
    """Promote every open proposal."""
    from joelclaw.memory import decide

    done = decide.approve_all(_memory(session), by="cli")
    return Reply({"approved": done, "count": len(done)},
                 lambda r: f"promoted {r['count']} proposal(s)",
                 [action("recall <query>", "search memory")])


@command("expire", group=review_group)
def review_expire(session: Session) -> Reply:
    """Archive open proposals older than JOELCLAW_MEMORY_PROPOSAL_TTL_DAYS (7)."""
    from joelclaw.memory import decide

    expired = decide.expire(_memory(session))
    return Reply({"expired": expired, "count": len(expired)},
                 lambda r: f"expired {r['count']} proposal(s)",
                 [action("review list", "what is left")])
